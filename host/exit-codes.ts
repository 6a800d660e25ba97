// The tender's exit codes (README "Exit codes"). A guest's own status (0-63 recommended)
// passes through; these are reserved.
export const EXIT = {
  usage: 64, // bad command line: unknown mode, malformed --net, missing or unreadable APP
  internal: 70, // a bug in the tender
  guestCrash: 71, // the guest threw, rejected, or does not export main()
  guestFault: 72, // the guest broke the shared-memory ABI (bad index, length, ...)
  guestOom: 73, // the guest exceeded --mem
  deviceFault: 74, // a TAP failed while running (deleted, gone)
  deviceUnavailable: 69, // at start: no such TAP, TAP down, busy, not a TAP, /dev/net/tun missing
  permission: 77, // at start: needs root or CAP_NET_ADMIN
  timeout: 124, // --timeout passed
  sigint: 130,
  sigterm: 143,
} as const;

export class UsageError extends Error {}
