import { availableParallelism } from 'node:os';

/** The LibTorch thread count of a native call: the option when given, else every core. */
export function resolveThreads(threads: number | undefined, name = 'threads'): number {
  if (threads === undefined) return availableParallelism();
  if (!Number.isInteger(threads) || threads < 1 || threads > 1024) {
    throw new RangeError(`${name} must be an integer from 1 to 1024, got ${threads}`);
  }
  return threads;
}
