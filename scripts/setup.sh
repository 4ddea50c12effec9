#!/usr/bin/env bash
# Set-up: create .venv with Python 3.10 and install the locked dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  for candidate in "${PYTHON:-}" python3.10 "$(pyenv root 2>/dev/null)/versions/"3.10*/bin/python3.10; do
    [ -n "$candidate" ] || continue
    if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "Python 3.10 not found: install it (pyenv install 3.10) or set PYTHON=/path/to/python3.10" >&2
  return 1
}

PY=$(find_python)
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; assert sys.version_info[:2] == (3, 10)'; then
  rm -rf .venv
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade "pip==24.2" "setuptools==70.3.0" "wheel==0.45.1"
.venv/bin/python -m pip install --quiet --no-deps -r requirements.lock
.venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
.venv/bin/python -m pip check
# The browser tests drive Debian's Chromium (never a downloaded browser): install it if missing.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing chromium for the browser tests ..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "note: no /usr/bin/chromium; the browser tests are skipped (apt-get install chromium)" >&2
  fi
fi
# The scale-out test runs Debian's nginx (deploy/nginx/dealerbot.conf) in front of the replicas.
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing nginx for the scale-out test ..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
  else
    echo "note: no nginx; the scale-out test's proxy checks are skipped (apt-get install nginx)" >&2
  fi
fi
echo "set-up done: .venv is ready (Python $(.venv/bin/python -c 'import platform; print(platform.python_version())'))"
