#!/bin/bash
# The round trip of a request that finds the responder at rest, by hand (bench/workloads/rest.ts
# measures the same as its `rtt at rest` column): after a `ping -f` load and 0.5 s of nothing,
# N single requests INTERVAL s apart, each far past every spin window, so each wakes the
# responder from its sleep. Prints ping's summary line, so two builds or two settings can be
# compared run by run:
#
#   bench/profile-rest.sh c --loop=epoll                        # testbed/bin/tap_echo
#   bench/profile-rest.sh tender --shm=hybrid                   # examples/ping_serve.js
#   for d in /tmp/wA/dist dist; do DIST=$d bench/profile-rest.sh tender --shm=hybrid; done
#
# Environment: N (requests, default 30), INTERVAL (default 0.2), LOAD (echoes of the `ping -f`
# first, default 30000; 0 for none: the JIT has then compiled nothing of the path), DIST
# (default dist), RESPONDER_CPUS and PEER_CPUS (taskset lists for the responder, every thread,
# and for ping, as bench/profile-ping.sh takes them), NODE_FLAGS. The responder's output is in /tmp/rest-tender.out or
# /tmp/rest-c.out, what it printed while the requests at rest came in the same with .rest. Needs root, `npm run build` and the C tools (testbed/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
who=${1:?usage: bench/profile-rest.sh c|tender [options...]}
shift
N=${N:-30} INTERVAL=${INTERVAL:-0.2} LOAD=${LOAD:-30000}
. bench/profile-netns.sh
out=/tmp/rest-$who.out
case $who in
  c) ip netns exec "$ns" "${responder_pin[@]}" testbed/bin/tap_echo --tap=tap0 "$@" >"$out" 2>&1 & ;;
  tender) ip netns exec "$ns" "${responder_pin[@]}" node ${NODE_FLAGS:-} ${DIST:-dist}/host/cli.js --net=tap0 --net-mac=02:00:00:00:00:02 "$@" examples/ping_serve.js >"$out" 2>&1 & ;;
  *) echo "bench/profile-rest.sh: c or tender, not $who" >&2; exit 64 ;;
esac
pid=$!
for _ in $(seq 100); do grep -qE 'answering|"ready":true' "$out" && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
responder_alive "$out"
[ "$LOAD" = 0 ] || nsx "${peer_pin[@]}" ping -f -q -c "$LOAD" -w 120 10.0.0.2 >/dev/null
sleep 0.5
# "rtt min/avg/max/mdev = 0.141/0.179/0.376/0.046 ms"
before=$(wc -l <"$out")
rtt=$(nsx "${peer_pin[@]}" ping -q -c "$N" -i "$INTERVAL" -w 120 10.0.0.2 | tail -1)
sed -n "$((before + 1)),\$p" "$out" >"$out.rest" # what it printed while the requests at rest came (e.g. NODE_FLAGS=--trace-deopt)
kill -TERM "$pid"
wait "$pid" || true
pid=
echo "${DIST:-dist} $who $*: $rtt"
