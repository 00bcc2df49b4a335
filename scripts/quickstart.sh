#!/usr/bin/env bash
# Install subtrail into the project venv (.venv), import the bundled sample mailbox and bank statement, and serve them
# at http://127.0.0.1:8001 (Ctrl-C to stop). Extra arguments go to `subtrail serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
# A regular (non-editable) install: what a wheel gives, package data included.
"$PY" -m pip install -q --disable-pip-version-check .
config=data/sample/subtrail.toml
db=data/sample.db
# Exit status 1 means "recorded errors and kept going": still worth serving.
subtrail import data/sample/mailbox --db "$db" --config "$config" || [ $? -eq 1 ]
subtrail bank import data/sample/bank/*.csv --db "$db" --config "$config" || [ $? -eq 1 ]
subtrail status --db "$db" --config "$config"
echo "Serving the sample (Ctrl-C to stop); subtrail serve prints the address"
exec subtrail serve --db "$db" --config "$config" "$@"
