// Small readers of what the programs print, shared by the workloads.

export const lastJson = (s: string) => JSON.parse(s.trim().split('\n').pop()!);

/** udp_sink's last line: frames counted and frames/s over its active span (first to last frame). */
export function sinkTotal(stdout: string): { frames: number; fps: number; active: number } {
  const m = /udp_sink: total (\d+) frames \d+ bytes in [\d.]+ s \(active ([\d.]+) s, (\d+) frames\/s/.exec(stdout);
  if (!m) throw new Error(`udp_sink printed no total: ${stdout.slice(-500)}`);
  return { frames: Number(m[1]), active: Number(m[2]), fps: Number(m[3]) };
}
