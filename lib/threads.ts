import { availableParallelism } from 'node:os';
import { ThreadsSchema, parseConfig } from './config.js';

/** The LibTorch thread count of a native call: the option when given, else every core. */
export function resolveThreads(threads: number | undefined, name = 'threads'): number {
  return threads === undefined ? availableParallelism() : parseConfig(ThreadsSchema, threads, name);
}
