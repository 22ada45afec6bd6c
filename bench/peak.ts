// The machine's fp32 FMA and bf16 dot-product peaks, measured by bench/peak/fma_peak.c compiled
// here (cc -march=native -fopenmp), so that achieved GFLOP/s are read against this machine and
// not against a data sheet. Null figures where no C compiler is available.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Peak {
  threads: number;
  fp32_gflops: number | null;
  bf16_gflops: number | null;
  error?: string;
}

export function measurePeak(threads: number): Peak {
  const dir = mkdtempSync(join(tmpdir(), 'ptpinn-peak-'));
  try {
    const exe = join(dir, 'fma_peak');
    const source = join(dirname(fileURLToPath(import.meta.url)), 'peak', 'fma_peak.c');
    execFileSync(process.env.CC ?? 'cc', ['-O2', '-march=native', '-fopenmp', source, '-o', exe], { stdio: ['ignore', 'ignore', 'pipe'] });
    const out = execFileSync(exe, { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(threads) } });
    const { fp32_gflops, bf16_gflops } = JSON.parse(out) as Peak;
    return { threads, fp32_gflops, bf16_gflops };
  } catch (error) {
    return { threads, fp32_gflops: null, bf16_gflops: null, error: (error as Error).message.split('\n')[0] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const threads = Number(process.argv[2] ?? 0) || (await import('node:os')).availableParallelism();
  console.log(JSON.stringify({ bench: 'peak', ...measurePeak(threads) }));
}
