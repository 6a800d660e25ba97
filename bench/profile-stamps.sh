#!/bin/bash
# Where a round trip's time goes, in the tender and in the C busy loop beside it (docs/tuning.md,
# "Where a round trip's time goes"): builds, in a directory of its own, the addon with its stamps
# (`npm run build:native -- --shmt_stamps=1`: native/stamps.h) beside a copy of dist, and tap_echo
# with -DTAP_ECHO_STAMPS; then runs bench/profile-ping.sh against each, ROUNDS times interleaved,
# and prints per run the echoes/s and the means, in ns, over its round trips:
#   read_to_write  from the read() that brought a request to the write() of its answer
#   read_to_js     (tender) from that read to burstRead's return to JS
#   js_to_write    (tender) from there to burstWrite's entry: the JS between them
#   read, write    the two system calls' own time
#   write_to_read  from an answer's write to the next request's read: the peer's turn
#
#   bench/profile-stamps.sh                      # tender --shm=hybrid against tap_echo --loop=busy
#   ROUNDS=5 bench/profile-stamps.sh --shm=hybrid --tap-reads=read
#
# Arguments: tender options (default --shm=hybrid). Environment: ROUNDS (default 3), C_ARGS (more
# tap_echo options, e.g. --touch-kb=1024), and REPS (default 2), COUNT, SIZE, WARM_S as
# bench/profile-ping.sh takes them. This checkout's build and
# testbed/bin are left as they are. Needs root, `npm run build` and the C tools (testbed/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- --shm=hybrid
ROUNDS=${ROUNDS:-3}
export REPS=${REPS:-2}
dir=$(mktemp -d /tmp/shmtender-stamps.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cp -r package.json binding.gyp native dist "$dir"/
ln -s "$PWD/node_modules" "$dir/node_modules"
(cd "$dir" && npm run build:native -- --shmt_stamps=1 >"$dir/build.log" 2>&1) || { cat "$dir/build.log" >&2; exit 1; }
cc -O2 -Wall -Wextra -DTAP_ECHO_STAMPS -o "$dir/tap_echo" testbed/c/tap_echo.c
for _ in $(seq "$ROUNDS"); do
  rate=$(TAP_ECHO="$dir/tap_echo" bench/profile-ping.sh c --loop=busy ${C_ARGS:-} | sed 's/.*: echoes\/s \([^;]*\);.*/\1/')
  echo "tap_echo --loop=busy${C_ARGS:+ $C_ARGS}: echoes/s $rate; $(grep -o '{"round_trips.*' /tmp/ping-c.out || echo 'no stamps')"
  rate=$(DIST="$dir/dist" bench/profile-ping.sh tender "$@" | sed 's/.*: echoes\/s \([^;]*\);.*/\1/')
  echo "tender $*: echoes/s $rate; $(grep -o '{"round_trips.*' /tmp/ping-tender.out || echo 'no stamps')"
done
