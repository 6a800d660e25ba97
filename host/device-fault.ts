// A TAP that failed while in use (deleted, down): one kind of error and one wording, whether
// the IO thread or a baseline trap ran into it. The tender turns it into exit 74.
import { errnoCode } from '../native/index.js';
import { tapGone } from './endings.js';

export class DeviceFault extends Error {}

/** The DeviceFault for a failed syscall on `iface`'s TAP. */
export function deviceFault(iface: string, err: unknown): DeviceFault {
  const code = errnoCode(err);
  if (code === 'EBADFD' || code === 'EBADF' || code === 'ENODEV') return new DeviceFault(tapGone(iface, 'deleted'));
  const what = code === 'EIO' ? 'I/O error on the TAP device (is it down?)' : ((err as Error)?.message ?? String(err));
  return new DeviceFault(`${iface}: ${what}`);
}
