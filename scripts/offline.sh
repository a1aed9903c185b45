#!/usr/bin/env bash
# Runs a command with the network cut: in a new network namespace whose only interface is
# loopback (up), so servers on 127.0.0.1 work and nothing else is reachable. `make test` runs
# the whole suite this way: every run proves that, once set up, the course needs no network.
# Needs unshare (util-linux) and ip (iproute2); as a user, unprivileged user namespaces. Where
# that is not possible the command runs with the network, after a NOTE saying so.
set -euo pipefail
if [ "$(id -u)" = 0 ]; then ns=(unshare -n); else ns=(unshare -rn); fi
if command -v unshare >/dev/null && command -v ip >/dev/null \
    && "${ns[@]}" sh -c 'ip link set lo up' 2>/dev/null; then
    exec "${ns[@]}" env VLESSON_NETWORK_CUT=1 sh -c 'ip link set lo up && exec "$@"' sh "$@"
fi
echo "NOTE: cannot cut the network here (unshare -n / ip not usable): running with it" >&2
exec "$@"
