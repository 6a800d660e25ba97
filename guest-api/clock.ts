// The one monotonic clock every thread uses (guest API, IO thread, baseline device), in
// nanoseconds as a float64 number: exact to the nanosecond for ~104 days of uptime.
export function monotonicNs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e9 + ns;
}
