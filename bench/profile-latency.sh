#!/bin/bash
# Looks inside the latency workload (bench/workloads/latency.ts, by hand): icmp_probe sends
# COUNT echo requests at RATE/s to one responder in a namespace of its own and dumps every
# request's send time and round trip; this prints the percentiles per stretch of the run, so a
# tail made of a few stalls shows apart from a steady one, then the whole run's (p50, p95, p99,
# and how many requests took 12 µs or more, 40 or more, or were lost: each counted once), then
# whether the slow ones keep time (bench/periods.ts: the period and phase on which requests of
# PERIOD_US or more, default 20, pile up, as a timer tick or a periodic wake-up makes them, and
# a second period beside it; or that none stands out). With SCHED=1 it also records the
# scheduler on every CPU while the probe runs (perf sched, CLOCK_MONOTONIC like the dump) and
# says what ran on each CPU during each slow request (bench/sched-tail.ts):
#
#   bench/profile-latency.sh c --loop=busy                     # testbed/bin/tap_echo
#   SCHED=1 bench/profile-latency.sh tender --shm=hybrid       # examples/ping_serve.js
#
# Environment: COUNT (default 30000), RATE (default 10000), WARMUP (requests not counted,
# default 1.5 s of them), FLOOD_PPS (udp_flood sends 1300-byte datagrams to port 9001 at this
# rate throughout, as the bench's lat-flood workload does with 100000), QDISC (tap0's qdisc,
# e.g. noqueue: bench/profile-netns.sh), SCHED=1, SLOW_US (default 50: what
# sched-tail calls slow), DIST (default dist: the tender build to run, so two builds can be
# compared run by run), NODE_FLAGS (e.g. --trace-gc; the tender's output is in /tmp/lat-tender.out). Needs root, `npm run build`, `npm run build:dev` (bench/periods.ts; sched-tail for SCHED=1) and the
# C tools (testbed/bin); SCHED=1 needs perf.
# RESPONDER_CPUS and PEER_CPUS (taskset lists, e.g. 1 and 0) pin the responder (every thread) and
# the probe and the flood. The guest is told --count=WARMUP+COUNT (ping_serve.js ignores it).
# PROBE runs another build of the probe (default testbed/bin/icmp_probe), e.g. an older one to
# compare with. GUEST runs another guest than examples/ping_serve.js, given up to 5 s to end on its own after
# the probe; with GUEST=bench/guests/ping_phases.js, `node dist-dev/bench/latency-phases.js` then
# reads where each request's time went (docs/tuning.md, "Under a flood: the request behind a
# slow reply").
set -euo pipefail
cd "$(dirname "$0")/.."
who=${1:?usage: bench/profile-latency.sh c|tender [options...]}
shift
COUNT=${COUNT:-30000} RATE=${RATE:-10000}
WARMUP=${WARMUP:-$((RATE * 3 / 2))} # requests before the counted ones: 1.5 s, as the bench (bench/workloads/latency.ts)
. bench/profile-netns.sh
out=/tmp/lat-$who.out
case $who in
  c) ip netns exec "$ns" "${responder_pin[@]}" testbed/bin/tap_echo --tap=tap0 "$@" >"$out" 2>&1 & ;;
  tender) ip netns exec "$ns" "${responder_pin[@]}" node ${NODE_FLAGS:-} ${DIST:-dist}/host/cli.js --net=tap0 --net-mac=02:00:00:00:00:02 "$@" "${GUEST:-examples/ping_serve.js}" --count=$((WARMUP + COUNT)) >"$out" 2>&1 & ;;
  *) echo "bench/profile-latency.sh: c or tender, not $who" >&2; exit 64 ;;
esac
pid=$!
sleep 1.5
responder_alive "$out"
if [ "${SCHED:-0}" != 0 ]; then
  perf record -a -k mono -e sched:sched_switch -e sched:sched_wakeup -o /tmp/lat-sched.data -- sleep $(((COUNT + WARMUP) / RATE + 2)) >/dev/null 2>&1 &
  perfpid=$!
  sleep 0.3
fi
if [ -n "${FLOOD_PPS:-}" ]; then
  secs=$(((COUNT + WARMUP) / RATE + 3))
  ip netns exec "$ns" "${peer_pin[@]}" testbed/bin/udp_flood --dst=10.0.0.2 --port=9001 --count=$((FLOOD_PPS * secs)) --seconds=$secs --pps="$FLOOD_PPS" --size=1300 >/dev/null &
  floodpid=$!
  sleep 0.05 # the flood is on before the first request, as in the bench
fi
nsx "${peer_pin[@]}" "${PROBE:-testbed/bin/icmp_probe}" --dst=10.0.0.2 --count="$COUNT" --warmup="$WARMUP" --rate="$RATE" --size=56 --dump=/tmp/lat-$who.txt
[ "${SCHED:-0}" != 0 ] && wait "$perfpid"
[ -z "${floodpid:-}" ] || { kill "$floodpid" 2>/dev/null; wait "$floodpid" 2>/dev/null; } || true
if [ -n "${GUEST:-}" ]; then for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done; fi
kill -TERM "$pid" 2>/dev/null || true
wait "$pid" || true
node -e '
  const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => l.split(" ").map(Number));
  const t0 = rows[0][0];
  const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))];
  for (const [a, b] of [[0, 0.5], [0.5, 1], [1, 2], [2, 4], [4, 8], [8, 16], [16, Infinity]]) {
    const w = rows.filter(([t]) => t - t0 >= a && t - t0 < b).map(([, r]) => (r < 0 ? Infinity : r)).sort((x, y) => x - y);
    if (w.length) console.log(`${a}-${b} s: ${w.length} requests, p50 ${pct(w, 0.5)} µs, p99 ${pct(w, 0.99)}, p99.9 ${pct(w, 0.999)}`);
  }
  const all = rows.map(([, r]) => (r < 0 ? Infinity : r)).sort((x, y) => x - y);
  const over = (us) => all.filter((r) => r >= us && Number.isFinite(r)).length;
  console.log(`all: ${all.length} requests, p50 ${pct(all, 0.5)} µs, p95 ${pct(all, 0.95)}, p99 ${pct(all, 0.99)}; ${over(12)} at 12 µs or more, ${over(40)} at 40 or more, ${all.length - all.filter(Number.isFinite).length} lost`);
  ' /tmp/lat-$who.txt
node dist-dev/bench/periods.js /tmp/lat-$who.txt "${PERIOD_US:-20}"
echo "per request (send time, rtt µs): /tmp/lat-$who.txt${SCHED:+; scheduler: /tmp/lat-sched.data}"
if [ "${SCHED:-0}" != 0 ]; then
  perf script -i /tmp/lat-sched.data -F comm,pid,tid,cpu,time,event,trace >/tmp/lat-sched.txt 2>/dev/null
  node dist-dev/bench/sched-tail.js --dump=/tmp/lat-$who.txt --sched=/tmp/lat-sched.txt --pid="$pid" --slow-us="${SLOW_US:-50}"
fi
