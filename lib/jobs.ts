// Native jobs share the machine's cores. Each runs on a libuv pool thread with its own LibTorch
// thread count, so four concurrent jobs of two threads each would put eight busy threads on two
// cores and slow every one of them. Jobs are admitted while their threads fit in the core budget
// (one job always runs, however many threads it asks for); the rest wait in order.
import { availableParallelism } from 'node:os';
import { ArgumentError, native } from './errors.js';

function budgetFromEnv(): number {
  const value = Number(process.env.PTYCHOPINN_CORES);
  return Number.isInteger(value) && value > 0 ? value : availableParallelism();
}

let budget = budgetFromEnv();
let inUse = 0;
let running = 0;
const waiting: (() => void)[] = [];

/**
 * The cores that concurrent native jobs may share (default: PTYCHOPINN_CORES, else every core).
 * Returns the previous budget.
 */
export function setCoreBudget(cores: number): number {
  if (!Number.isInteger(cores) || cores < 1) throw new ArgumentError(`the core budget must be a positive integer, got ${cores}`);
  const previous = budget;
  budget = cores;
  wake();
  return previous;
}

function wake(): void {
  for (const resume of waiting.splice(0)) resume();
}

/** Runs a native call once its threads fit in the budget; its rejection becomes a NativeError. */
export async function runNative<T>(what: string, threads: number, call: () => Promise<T>): Promise<T> {
  const need = Math.min(threads, budget);
  while (running > 0 && inUse + need > budget) await new Promise<void>((resume) => waiting.push(resume));
  inUse += need;
  running++;
  try {
    return await native(what, call);
  } finally {
    inUse -= need;
    running--;
    wake();
  }
}

/**
 * Progress reports cross threads through a queue that may still hold the last ones when the
 * native call settles. `report` passes each on to `onProgress` and counts it; `drained(count)`
 * resolves once `count` reports have arrived (at once without a callback).
 */
export function countedProgress<T>(onProgress: ((progress: T) => void) | undefined): {
  report: ((progress: T) => void) | undefined;
  drained: (count: number) => Promise<void>;
} {
  let delivered = 0;
  let expected = Infinity;
  let allDelivered = () => {};
  const all = new Promise<void>((resolve) => { allDelivered = resolve; });
  const report = onProgress && ((progress: T) => {
    onProgress(progress);
    if (++delivered >= expected) allDelivered();
  });
  return {
    report,
    drained: (count) => {
      expected = count;
      return !report || delivered >= count ? Promise.resolve() : all;
    },
  };
}
