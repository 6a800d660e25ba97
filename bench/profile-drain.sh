#!/bin/bash
# Profiles one RX drain (bench/workloads/drain.ts, by hand): the receiver is frozen while
# udp_flood queues N 1300-byte datagrams on a TAP in a namespace of its own, then thawed and
# recorded with `perf record` while it drains. To compare where the time goes, same N:
#
#   bench/profile-drain.sh c --loop=epoll                 # testbed/bin/tap_reader
#   bench/profile-drain.sh tender --shm=hybrid --stats    # dist/host/cli.js examples/udp_sink.js
#   perf report -i /tmp/drain-c.data --no-children -g none --sort sym -F sample,sym
#   perf report -i /tmp/drain-tender.data --tid=TID ...   # the IO thread: the busiest tid
#
# Environment: N (frames, default 350000; the TAP queue is made to hold them), WARM (frames sent
# first to port 9001, which the receivers read and do not count, so the JIT has compiled the hot
# paths, as the bench's warm-up does), GUEST (another guest than examples/udp_sink.js), GUEST_ARGS
# (more arguments for the receiver, e.g. --work-ns=2000 as drain-work gives udp_sink), FREQ
# (perf's sampling rate, default 20000), PERF=0 to only print the receiver's own line,
# NODE_FLAGS (e.g. --perf-basic-prof, so that perf names the JIT's functions), DIST (default dist:
# the tender build to run, so two builds can be compared interleaved).
# Needs root, perf, `npm run build` and the C tools (testbed/bin, built by the tests or bench).
set -euo pipefail
cd "$(dirname "$0")/.."
who=${1:?usage: bench/profile-drain.sh c|tender [options...]}
shift
N=${N:-350000} FREQ=${FREQ:-20000} PERF=${PERF:-1}
. bench/profile-netns.sh
nsx ip link set tap0 txqueuelen $((N + 50000))
out=/tmp/drain-$who.out
case $who in
  c) ip netns exec "$ns" testbed/bin/tap_reader --tap=tap0 --count="$N" --skip-port=9001 ${GUEST_ARGS:-} "$@" >"$out" 2>&1 & ;;
  tender) ip netns exec "$ns" node ${NODE_FLAGS:-} ${DIST:-dist}/host/cli.js --net=tap0 --net-mac=02:00:00:00:00:02 "$@" "${GUEST:-examples/udp_sink.js}" --count="$N" --skip-port=9001 --idle-ms=300 --timeout=120 ${GUEST_ARGS:-} >"$out" 2>&1 & ;;
  *) echo "bench/profile-drain.sh: c or tender, not $who" >&2; exit 64 ;;
esac
pid=$! # ip netns exec execs the receiver: this is its pid (a shell function would put a subshell here)
sleep 1.5
responder_alive "$out"
if [ -n "${WARM:-}" ]; then
  nsx testbed/bin/udp_flood --dst=10.0.0.2 --port=9001 --count="$WARM" --seconds=60 --size=1300 >/dev/null
  sleep 0.2
fi
kill -STOP "$pid"
nsx testbed/bin/udp_flood --dst=10.0.0.2 --port=9000 --count="$N" --seconds=60 --size=1300 >/dev/null
if [ "$PERF" != 0 ]; then
  perf record -F "$FREQ" -g -p "$pid" -o "/tmp/drain-$who.data" -- sleep 1 >/dev/null 2>&1 &
  perfpid=$!
  sleep 0.1
fi
kill -CONT "$pid"
wait "$pid" || true
[ "$PERF" != 0 ] && wait "$perfpid"
cat "$out"
