#!/usr/bin/env bash
# Install subtrail, import the bundled sample mailbox and serve it at http://127.0.0.1:8001
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --disable-pip-version-check -e .
subtrail import data/sample/mailbox --db data/sample.db --config data/sample/subtrail.toml || [ $? -eq 1 ]
exec subtrail serve --db data/sample.db --config data/sample/subtrail.toml "$@"
