#!/bin/bash
# Profiles TX (bench/workloads/tx.ts, by hand): the sender writes N 1300-byte datagrams into a
# TAP in a namespace of its own, to udp_count there, recorded with `perf record` for half a
# second once it is sending. To compare where the time goes:
#
#   N=1500000 bench/profile-tx.sh c --loop=busy               # testbed/bin/tap_writer
#   bench/profile-tx.sh tender --shm=hybrid --stats            # examples/udp_blast.js, batch 32
#   perf report -i /tmp/tx-tender.data --comm=shmt-io --no-children -g none --sort dso,sym
#
# Environment: N (frames, default 600000; the C writer needs ~1.5M to outlast the perf start),
# BATCH (udp_blast's --batch, default 32), WARM (frames the sender sends first to port 9001,
# untimed, by the loop it is then timed with, as the bench's TX workloads do; default none;
# perf starts 0.4 s in, so with WARM it may record the warm-up: raise N to outlast it),
# FREQ (perf's sampling rate, default 20000), PERF=0 to only print the sender's and the
# counter's lines, NODE_FLAGS (e.g. --perf-basic-prof, so that perf names the JIT's functions),
# DIST (default dist: the tender build to run, so two builds can be compared interleaved).
# Needs root, perf, `npm run build` and the C tools (testbed/bin, built by the tests or bench).
set -euo pipefail
cd "$(dirname "$0")/.."
who=${1:?usage: bench/profile-tx.sh c|tender [options...]}
shift
N=${N:-600000} FREQ=${FREQ:-20000} PERF=${PERF:-1}
warm=()
[ -n "${WARM:-}" ] && warm=(--warm="$WARM" --warm-port=9001)
. bench/profile-netns.sh
nsx testbed/bin/udp_count --port=9000 --count="$N" --idle-ms=700 >/tmp/tx-count.out 2>&1 &
counter=$!
sleep 0.3
mac=$(nsx cat /sys/class/net/tap0/address)
out=/tmp/tx-$who.out
case $who in
  c) ip netns exec "$ns" testbed/bin/tap_writer --tap=tap0 --count="$N" --size=1300 --dst-mac="$mac" "${warm[@]}" "$@" >"$out" 2>&1 & ;;
  tender) ip netns exec "$ns" node ${NODE_FLAGS:-} ${DIST:-dist}/host/cli.js --net=tap0 --net-mac=02:00:00:00:00:02 "$@" examples/udp_blast.js --dst=10.0.0.1:9000 --count="$N" --size=1300 --batch="${BATCH:-32}" "${warm[@]}" >"$out" 2>&1 & ;;
  *) echo "bench/profile-tx.sh: c or tender, not $who" >&2; exit 64 ;;
esac
pid=$!
if [ "$PERF" != 0 ]; then
  sleep 0.4
  perf record -F "$FREQ" -g -p "$pid" -o "/tmp/tx-$who.data" -- sleep 0.5 >/dev/null 2>&1 &
  perfpid=$!
fi
wait "$pid" || true
[ "$PERF" != 0 ] && wait "$perfpid"
wait "$counter" || true
cat "$out"
tail -1 /tmp/tx-count.out
