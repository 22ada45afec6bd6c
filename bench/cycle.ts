// The seeds' CPU cycle as a user runs it: `ptychopinn train` (2 epochs, 64 groups, batch 4,
// gridsize 1, N = 64, on the fixture, no tracking) then `ptychopinn infer` (32 patterns), each a
// fresh process. One JSON line per step and one for the cycle, with peak memory.
//
// The reference PtychoPINN is measured in the same run when the commands that run its cycle are
// given (no ratio otherwise: a figure from another run or machine is not comparable). Each is a
// shell command in which {data}, {train_dir} and {infer_dir} are replaced, e.g. for its PyTorch
// backend (`--model_path` must come first: its inference reads argv[1] to choose its mode):
//   PTYCHOPINN_REFERENCE_TRAIN='cd ~/PtychoPINN && python -m ptycho_torch.train --train_data_file {data} --output_dir {train_dir} --max_epochs 2 --n_images 64 --batch_size 4 --gridsize 1 --accelerator cpu'
//   PTYCHOPINN_REFERENCE_INFER='cd ~/PtychoPINN && python -m ptycho_torch.inference --model_path {train_dir} --test_data {data} --output_dir {infer_dir} --n_images 32 --accelerator cpu'
// Its reader at d8fab81 wants the patterns under `diff3d`: give it a copy of the fixture with that
// key added in place of {data}.
// Run: npm run build:ts && npx tsx bench/cycle.ts [repeats] [more train flags, e.g. --precision bf16]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { machine } from './machine.js';
import { runMeasured } from './process.js';

const CLI = resolve('dist/lib/cli/bin.js');
const FIXTURE = resolve('fixtures/run1084_sim.npz');
const host = machine();
const reference = process.env.PTYCHOPINN_REFERENCE_TRAIN && process.env.PTYCHOPINN_REFERENCE_INFER
  ? { train: process.env.PTYCHOPINN_REFERENCE_TRAIN, infer: process.env.PTYCHOPINN_REFERENCE_INFER }
  : null;

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

async function cycle(dir: string, commands: { train: string[]; infer: string[] }) {
  const train = await runMeasured(commands.train[0], commands.train.slice(1));
  const infer = await runMeasured(commands.infer[0], commands.infer.slice(1));
  await rm(dir, { recursive: true, force: true });
  return { train, infer, seconds: train.seconds + infer.seconds, peakMb: Math.max(train.peakMb, infer.peakMb) };
}

const repeats = Number(process.argv[2] ?? 1);
if (!Number.isInteger(repeats) || repeats < 1) throw new Error(`the first argument is the number of repeats, got ${process.argv[2]}`);
const trainFlags = process.argv.slice(3);
const root = await mkdtemp(join(tmpdir(), 'ptpinn-bench-'));
try {
  const ours: Awaited<ReturnType<typeof cycle>>[] = [];
  const theirs: Awaited<ReturnType<typeof cycle>>[] = [];
  const runReference = async (i: number) => {
    const refDir = join(root, 'reference');
    const fill = (t: string) => t.replaceAll('{data}', FIXTURE).replaceAll('{train_dir}', join(refDir, 'train')).replaceAll('{infer_dir}', join(refDir, 'infer'));
    try {
      const q = await cycle(refDir, { train: ['bash', '-c', fill(reference!.train)], infer: ['bash', '-c', fill(reference!.infer)] });
      theirs.push(q);
      console.log(JSON.stringify({ bench: 'cycle.reference', ...host, run: i + 1, train_s: +q.train.seconds.toFixed(2), infer_s: +q.infer.seconds.toFixed(2),
        seconds: +q.seconds.toFixed(2), peak_mb: Math.round(q.peakMb) }));
    } catch (error) {
      console.log(JSON.stringify({ bench: 'cycle.reference', run: i + 1, error: (error as Error).message }));
    }
  };
  for (let i = 0; i < repeats; i++) {
    // alternated, the reference first on odd runs, so that a slow spell of the machine falls on both
    if (reference && i % 2 === 1) await runReference(i);
    const dir = join(root, 'ours');
    const r = await cycle(dir, {
      train: [process.execPath, CLI, 'train', '--train_data_file', FIXTURE, '--output_dir', join(dir, 'train'), '--max_epochs', '2',
        '--n_images', '64', '--batch_size', '4', '--gridsize', '1', '--disable_mlflow', '--quiet', ...trainFlags],
      infer: [process.execPath, CLI, 'infer', '--model_path', join(dir, 'train'), '--test_data', FIXTURE, '--output_dir', join(dir, 'infer'),
        '--n_images', '32', '--quiet'],
    });
    ours.push(r);
    console.log(JSON.stringify({ bench: 'cycle.ours', ...host, run: i + 1, train_s: +r.train.seconds.toFixed(2), infer_s: +r.infer.seconds.toFixed(2),
      seconds: +r.seconds.toFixed(2), peak_mb: Math.round(r.peakMb) }));
    if (reference && i % 2 === 0) await runReference(i);
  }
  const seconds = median(ours.map((r) => r.seconds));
  const peak = median(ours.map((r) => r.peakMb));
  console.log(JSON.stringify({
    bench: 'cycle', ...host, repeats, train_flags: trainFlags.join(' '), median_seconds: +seconds.toFixed(2), median_peak_mb: Math.round(peak),
    ...(reference && theirs.length > 0
      ? { reference_median_seconds: +median(theirs.map((r) => r.seconds)).toFixed(2), reference_median_peak_mb: Math.round(median(theirs.map((r) => r.peakMb))),
          speedup_vs_reference: +(median(theirs.map((r) => r.seconds)) / seconds).toFixed(2) }
      : { reference: 'not measured (set PTYCHOPINN_REFERENCE_TRAIN and PTYCHOPINN_REFERENCE_INFER)' }),
  }));
} finally {
  await rm(root, { recursive: true, force: true });
}
