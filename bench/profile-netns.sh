# Sourced by bench/profile-*.sh: a namespace of their own ($ns, entered with nsx) with tap0 at
# 10.0.0.1/24 and the guest's MAC (02:00:00:00:00:02) at 10.0.0.2, deleted on exit together
# with the receiver ($pid), as the bench's own namespace is (testbed/netns.ts). (The trap must not fail before the del: set -e applies in it.)
# Also the taskset prefixes RESPONDER_CPUS and PEER_CPUS ask for ($responder_pin, $peer_pin: at the end).
ns=shmtprof$$
nsx() { ip netns exec "$ns" "$@"; }
ip netns add "$ns"
trap '[ -z "${pid:-}" ] || kill -9 "$pid" 2>/dev/null || true; ip netns del "$ns"' EXIT
nsx ip link set lo up
nsx ip tuntap add dev tap0 mode tap
nsx sysctl -qw net.ipv6.conf.tap0.disable_ipv6=1 # as the bench (testbed/netns.ts): no IPv6 chatter (router solicitations, MLD) reaching the guest
nsx ip addr add 10.0.0.1/24 dev tap0
nsx ip link set tap0 up
nsx ip neigh add 10.0.0.2 lladdr 02:00:00:00:00:02 dev tap0
# QDISC=noqueue (or any tc qdisc): tap0's root qdisc instead of the system default
# (net.core.default_qdisc, pfifo_fast here); see docs/tuning.md, "Under a flood, and the TAP's qdisc".
[ -z "${QDISC:-}" ] || nsx tc qdisc replace dev tap0 root $QDISC
# After the start-up wait: a receiver that already exited (a bad option, a TAP it could not open)
# ends the script with its own lines, instead of a load sent at nothing until its timeout.
responder_alive() {
  kill -0 "$pid" 2>/dev/null && return 0
  echo "$0: the responder exited before the load started; its output ($1):" >&2
  tail -5 "$1" >&2
  pid=
  exit 1
}
# RESPONDER_CPUS and PEER_CPUS (taskset lists): what the scripts put before the responder's and
# the peer's commands; empty when not asked, so the processes keep whatever CPUs the script may use.
responder_pin=() peer_pin=()
[ -z "${RESPONDER_CPUS:-}" ] || responder_pin=(taskset -c "$RESPONDER_CPUS")
[ -z "${PEER_CPUS:-}" ] || peer_pin=(taskset -c "$PEER_CPUS")
