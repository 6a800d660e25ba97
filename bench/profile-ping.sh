#!/bin/bash
# `ping -f` against one responder, by hand, as the bench's ping workload does (bench/workloads/ping.ts)
# but with each repetition's rate printed and the tender's summary kept, so two builds or two
# settings can be compared run by run:
#
#   bench/profile-ping.sh c --loop=busy                              # testbed/bin/tap_echo
#   bench/profile-ping.sh tender --shm=hybrid --stats                # examples/ping_serve.js
#   for d in dist-old dist; do DIST=$d bench/profile-ping.sh tender --shm=hybrid --stats; done
#
# Prints one line: the echoes/s of each repetition, their total rate, and (tender) the
# `serviced by` line of --stats (token hand-offs, `pollers tried N×, two picked M×` and the last
# trial's frames/s with one poller and with two).
# Environment: WARM_S (seconds of `ping -f` first, not counted; default 2, as the bench's
# pingWarmS), COUNT (echoes per repetition, default 30000), REPS (default 4), SIZE (payload
# bytes, default 56), PRELOAD (ping's -l), DIST (default dist), TAP_ECHO (another tap_echo
# build, default testbed/bin/tap_echo), RESPONDER_CPUS and PEER_CPUS (taskset lists for the
# responder, every thread, and for ping, as bench/profile-latency.sh takes them), NODE_FLAGS. The tender's output is in /tmp/ping-tender.out,
# tap_echo's in /tmp/ping-c.out. Needs root, `npm run build` and the C tools (testbed/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
who=${1:?usage: bench/profile-ping.sh c|tender [options...]}
shift
WARM_S=${WARM_S:-2} COUNT=${COUNT:-30000} REPS=${REPS:-4} SIZE=${SIZE:-56}
. bench/profile-netns.sh
out=/tmp/ping-$who.out
case $who in
  c) ip netns exec "$ns" "${responder_pin[@]}" "${TAP_ECHO:-testbed/bin/tap_echo}" --tap=tap0 "$@" >"$out" 2>&1 & ;;
  tender) ip netns exec "$ns" "${responder_pin[@]}" node ${NODE_FLAGS:-} ${DIST:-dist}/host/cli.js --net=tap0 --net-mac=02:00:00:00:00:02 "$@" examples/ping_serve.js >"$out" 2>&1 & ;;
  *) echo "bench/profile-ping.sh: c or tender, not $who" >&2; exit 64 ;;
esac
pid=$!
# Ready when it says so (ping_serve: "answering"; tap_echo: {"ready":true}), 10 s at most.
for _ in $(seq 100); do grep -qE 'answering|"ready":true' "$out" && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
responder_alive "$out"
pre=${PRELOAD:+-l $PRELOAD}
[ "$WARM_S" = 0 ] || nsx "${peer_pin[@]}" ping -f -q $pre -w "$WARM_S" -s "$SIZE" 10.0.0.2 >/dev/null || true
rates=() total_ms=0
for _ in $(seq "$REPS"); do
  # "30000 packets transmitted, 30000 received, 0% packet loss, time 523ms"
  ms=$(nsx "${peer_pin[@]}" ping -f -q $pre -c "$COUNT" -w 120 -s "$SIZE" 10.0.0.2 | sed -n 's/.* received, .* time \([0-9]*\)ms.*/\1/p' || true)
  [ -n "$ms" ] && [ "$ms" -gt 0 ] || { echo "bench/profile-ping.sh: ping gave no time" >&2; exit 1; }
  rates+=("$((COUNT * 1000 / ms))")
  total_ms=$((total_ms + ms))
done
kill -TERM "$pid"
wait "$pid" || true
pid=
summary=$(grep -o 'serviced by: .*' "$out" || true)
echo "${DIST:-dist} $who: echoes/s ${rates[*]}; all $((COUNT * REPS * 1000 / total_ms))${summary:+; $summary}"
