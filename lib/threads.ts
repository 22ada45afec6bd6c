import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { ThreadsSchema, parseConfig } from './config.js';

/** The LibTorch thread count of a native call: the option when given, else every core. */
export function resolveThreads(threads: number | undefined, name = 'threads'): number {
  return threads === undefined ? availableParallelism() : parseConfig(ThreadsSchema, threads, name);
}

let bf16: boolean | undefined;

/** Whether this CPU multiplies bf16 natively (AVX512_BF16 or AMX), where bf16 convolutions pay. */
export function cpuHasBf16(): boolean {
  if (bf16 === undefined) {
    try {
      const flags = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1].split(/\s+/) ?? [];
      bf16 = flags.includes('avx512_bf16') || flags.includes('amx_bf16');
    } catch {
      bf16 = false;
    }
  }
  return bf16;
}

/** The precision a network runs at (training or inference): `auto` resolved for this CPU. */
export function resolvePrecision(precision: 'auto' | 'fp32' | 'bf16'): 'fp32' | 'bf16' {
  return precision === 'auto' ? (cpuHasBf16() ? 'bf16' : 'fp32') : precision;
}
