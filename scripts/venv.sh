# Sourced by the other scripts: make (once) and use the project's virtual environment.
# A stock Debian/Ubuntu python3 refuses `pip install` into itself (PEP 668), so everything
# goes into .venv (or $SUBTRAIL_VENV). As root, a missing venv module is installed with apt-get.
VENV="${SUBTRAIL_VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    rm -rf "$VENV"
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      python3 -m venv "$VENV"
    else
      echo "subtrail: python3 cannot create a virtual environment; install python3-venv" >&2
      exit 2
    fi
  fi
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
fi
PY="$VENV/bin/python"
export PATH="$PWD/$VENV/bin:$PATH"
