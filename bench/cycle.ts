// The seeds' CPU cycle as a user runs it: `ptychopinn train` (2 epochs, 64 groups, batch 4,
// gridsize 1, N = 64, on the fixture, no tracking) then `ptychopinn infer` (32 patterns), each a
// fresh process. Prints one JSON line per step and one for the cycle, with peak memory (VmHWM of
// the process, sampled every 20 ms) and the reference's published figures beside ours.
// Run: npm run build:ts && npx tsx bench/cycle.ts [repeats]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const CLI = resolve('dist/lib/cli/bin.js');
const FIXTURE = resolve('fixtures/run1084_sim.npz');
// PtychoPINN's PyTorch backend on a machine like this one (DEVELOPERS.md): the whole cycle
// about 27 s, 14 s of it Python imports, 1.15 GB peak. Published, not measured here.
const REFERENCE = { cycle_s: 27, peak_mb: 1150 };

function peakKb(pid: number): number {
  try {
    return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0; // the process has just ended
  }
}

async function run(args: string[]): Promise<{ seconds: number; peakMb: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  let peak = 0;
  const timer = setInterval(() => { peak = Math.max(peak, peakKb(child.pid!)); }, 20);
  const code = await new Promise<number>((done) => child.on('close', (c) => done(c ?? -1)));
  clearInterval(timer);
  if (code !== 0) throw new Error(`ptychopinn ${args[0]} exited with ${code}`);
  return { seconds: (performance.now() - started) / 1000, peakMb: peak / 1024 };
}

const repeats = Number(process.argv[2] ?? 1);
const dir = await mkdtemp(join(tmpdir(), 'ptpinn-bench-'));
try {
  for (let i = 0; i < repeats; i++) {
    const train = await run(['train', '--train_data_file', FIXTURE, '--output_dir', join(dir, 'train'), '--max_epochs', '2',
      '--n_images', '64', '--batch_size', '4', '--gridsize', '1', '--disable_mlflow', '--quiet']);
    console.log(JSON.stringify({ bench: 'cycle.train', seconds: +train.seconds.toFixed(3), peak_mb: +train.peakMb.toFixed(0), groups_per_s: +(128 / train.seconds).toFixed(1) }));
    const infer = await run(['infer', '--model_path', join(dir, 'train'), '--test_data', FIXTURE, '--output_dir', join(dir, 'infer'), '--n_images', '32', '--quiet']);
    console.log(JSON.stringify({ bench: 'cycle.infer', seconds: +infer.seconds.toFixed(3), peak_mb: +infer.peakMb.toFixed(0) }));
    const total = train.seconds + infer.seconds;
    const peak = Math.max(train.peakMb, infer.peakMb);
    console.log(JSON.stringify({
      bench: 'cycle', seconds: +total.toFixed(3), peak_mb: +peak.toFixed(0),
      reference_seconds: REFERENCE.cycle_s, reference_peak_mb: REFERENCE.peak_mb,
      speedup_vs_reference: +(REFERENCE.cycle_s / total).toFixed(1), memory_vs_reference: +(peak / REFERENCE.peak_mb).toFixed(2),
    }));
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
