#!/usr/bin/env bash
# Checks, before anything is downloaded, what the set-up needs: each problem is one line with
# its fix, and the exit status is 1 if there is any. scripts/setup.sh runs it first.
#   PYTHON (python3), VENV (.venv), VLESSON_BUILD (cpu|gpu), VLESSON_NEED_GB (5): as setup.sh.
# No venv/ensurepip module is needed: uv creates the venv. uv comes from $UV, the PATH,
# .tools/uv, or once from PyPI through the system Python's pip.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
BUILD=${VLESSON_BUILD:-cpu}
NEED_GB=${VLESSON_NEED_GB:-5}
problems=0
say() { echo "vlesson set-up: $*" >&2; problems=$((problems + 1)); }

command -v make >/dev/null 2>&1 \
    || say "no 'make' command: install it (Debian/Ubuntu: sudo apt install make; macOS: xcode-select --install)"

ver=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
if [ -z "$ver" ]; then
    say "no Python at PYTHON=$PYTHON: install Python 3.11 (sudo apt install python3.11) or run make setup PYTHON=/path/to/python3.11"
else
    major=${ver%%.*} minor=${ver#*.}
    if [ "$major" -ne 3 ] || [ "$minor" -lt 11 ]; then
        say "$PYTHON is Python $ver, older than the 3.11 vlesson needs: install python3.11 and run make setup PYTHON=python3.11"
    elif [ "$minor" -gt 14 ]; then
        say "$PYTHON is Python $ver, newer than vLLM supports (3.11-3.14): install python3.11 and run make setup PYTHON=python3.11"
    elif [ ! -f "locks/$BUILD-py$ver.txt" ]; then
        have=$(cd locks && ls "$BUILD"-py*.txt 2>/dev/null | sed "s/^$BUILD-py//; s/\.txt$//" | tr '\n' ' ')
        say "no tested $BUILD set for Python $ver (locks/ has Python ${have:-none}): install python${have%% *} and run make setup PYTHON=python${have%% *} (or: uv python install ${have%% *})"
    fi
    if [ -z "${UV:-}" ] && ! command -v uv >/dev/null 2>&1 && [ ! -x .tools/uv/bin/uv ] \
        && ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
        say "neither uv nor pip for $PYTHON, so uv cannot be fetched: sudo apt install python3-pip, or install uv (pipx install uv; https://docs.astral.sh/uv/)"
    fi
fi

if [ ! -x "$VENV/bin/python" ]; then
    dir=$(dirname "$VENV")
    while [ ! -d "$dir" ]; do dir=$(dirname "$dir"); done
    free_kb=$(df -Pk "$dir" 2>/dev/null | awk 'NR == 2 {print $4}')
    if [ -n "$free_kb" ] && [ "$free_kb" -lt $((NEED_GB * 1024 * 1024)) ]; then
        say "only $((free_kb / 1024 / 1024)) GB free in $dir, the install needs about $NEED_GB GB (3.5 GB for vLLM and torch, the rest for the models): free some space or run make setup VENV=/a/bigger/disk/venv"
    fi
fi
exit $((problems > 0))
