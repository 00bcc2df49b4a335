#!/usr/bin/env bash
# Install everything the test suite needs into the project venv (.venv), then run ruff and the whole suite.
# As root it also installs the system packages the tests start for real:
# Dovecot (IMAP), isync (mbsync, for the benchmark), Chromium (browser tests), poppler-utils (pdftotext).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  need=()
  for pkg in dovecot-imapd isync chromium chromium-driver sqlite3 poppler-utils; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
  done
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
fi

source scripts/venv.sh
"$PY" -m pip install -q --disable-pip-version-check -e '.[test,oauth,fuzz]'
"$PY" -m ruff check .
"$PY" -m ruff format --check .
# Coverage-guided fuzzing of parse -> extract -> store, briefly (a crash fails the run; see bench/fuzz_atheris.py).
"$PY" bench/fuzz_atheris.py --seconds 20 2>&1 | tail -n 6
"$PY" -m pytest -q "$@"
