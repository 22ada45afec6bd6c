// The command line against a corpus of malformed inputs (scripts/make-bad-inputs.ts): each case's
// exit code and stderr, no temporary file left behind, nothing written outside the case's own
// output folder, no hang (60 s) and no runaway memory (4 GiB).
import test, { type ExecutionContext } from 'ava';
import { chmodSync, existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { readNpz } from '../lib/npz.js';
import { type BadCase, badCases } from '../scripts/make-bad-inputs.js';
import { type CliResult, runCli, runNode } from './helpers/cli.js';

const SCRIPT = resolve('scripts/make-bad-inputs.ts');
const DIR = mkdtempSync(join(tmpdir(), 'ptpinn-bad-inputs-'));
const OUT = join(DIR, 'out');
const RUN_SECONDS = 60;
const MAX_RSS_KB = 4 * 1024 * 1024;
const CONCURRENCY = 2;
const isRoot = process.getuid?.() === 0;

// The names are known before the files exist: one test each. The expectations come from the
// cases.json the script writes.
const declared = badCases(DIR);
let cases = new Map<string, BadCase>();
let baseline = new Map<string, string>();
// each case's run, once over: a case with `sameAs` compares its outputs with that one's
const finished = new Map(declared.map((c) => {
  let done!: () => void;
  const promise = new Promise<void>((resolve) => { done = resolve; });
  return [c.name, { promise, done }];
}));

/** Every entry under DIR but the per-case output folders: type, size, mode and mtime. */
function snapshot(): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (path === OUT) continue;
      const s = lstatSync(path);
      out.set(relative(DIR, path), `${s.isDirectory() ? 'dir' : s.isFile() ? 'file' : 'other'} ${s.size} ${s.mode} ${s.mtimeMs}`);
      if (s.isDirectory()) walk(path);
    }
  };
  // a folder's mtime shows a file made and removed in it (a temporary file)
  out.set('.', `dir ${lstatSync(DIR).mode} ${lstatSync(DIR).mtimeMs}`);
  walk(DIR);
  return out;
}

function changes(before: Map<string, string>, after: Map<string, string>): string[] {
  const found: string[] = [];
  for (const [path, what] of after) if (before.get(path) !== what) found.push(before.has(path) ? `changed: ${path}` : `new: ${path}`);
  for (const path of before.keys()) if (!after.has(path)) found.push(`removed: ${path}`);
  return found;
}

function temporaries(dir: string): string[] {
  if (!existsSync(dir) || !lstatSync(dir).isDirectory()) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => /\.tmp-/.test(f));
}

// At most CONCURRENCY CLI runs at once, in declaration order (2 cores).
let running = 0;
const waiting: (() => void)[] = [];
async function slot<T>(work: () => Promise<T>): Promise<T> {
  if (running < CONCURRENCY) running++;
  else await new Promise<void>((go) => waiting.push(go));
  try {
    return await work();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

interface Run extends CliResult {
  hung: boolean;
  peakKb: number;
  overMemory: boolean;
}

/** The CLI in DIR, killed after RUN_SECONDS or when its resident memory passes MAX_RSS_KB. */
async function run(args: string[]): Promise<Run> {
  let hung = false;
  let overMemory = false;
  let peakKb = 0;
  let timer: NodeJS.Timeout | undefined;
  let poll: NodeJS.Timeout | undefined;
  const result = await runCli(args, {
    cwd: DIR,
    env: { MLFLOW_TRACKING_URI: '' },
    onSpawn: (child) => {
      timer = setTimeout(() => { hung = true; child.kill('SIGKILL'); }, RUN_SECONDS * 1000);
      poll = setInterval(() => {
        try {
          const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0);
          peakKb = Math.max(peakKb, kb);
          if (kb > MAX_RSS_KB) { overMemory = true; child.kill('SIGKILL'); }
        } catch {
          // the process has ended
        }
      }, 100);
    },
  });
  clearTimeout(timer);
  clearInterval(poll);
  return { ...result, hung, peakKb, overMemory };
}

test.before(async (t) => {
  // the generator trains a small model (a few seconds) and writes ~140 files
  t.timeout(300_000);
  const made = await runNode(['--import', 'tsx', SCRIPT, DIR]);
  if (made.code !== 0) throw new Error(`make-bad-inputs failed (exit ${made.code}):\n${made.stderr}`);
  const list = JSON.parse(readFileSync(join(DIR, 'cases.json'), 'utf8')) as BadCase[];
  cases = new Map(list.map((c) => [c.name, c]));
  const names = declared.map((c) => c.name);
  if (list.length !== names.length || list.some((c, i) => c.name !== names[i])) {
    throw new Error(`cases.json lists ${list.map((c) => c.name).join(', ')}; the test declared ${names.join(', ')}`);
  }
  if (new Set(names).size !== names.length) throw new Error('two cases share a name');
  baseline = snapshot();
  t.log(`${list.length} cases in ${DIR}`);
});

test.after.always(async () => {
  if (process.env.KEEP_BAD_INPUTS) return;
  // the 0o500 folder of output-dir-unwritable, for a non-root rm
  const unwritable = join(OUT, 'output-dir-unwritable');
  if (existsSync(unwritable)) chmodSync(unwritable, 0o700);
  await rm(DIR, { recursive: true, force: true });
});

const show = (r: Run) => `exit ${r.code}${r.signal ? ` (${r.signal})` : ''} after ${r.seconds.toFixed(1)} s, peak ${Math.round(r.peakKb / 1024)} MB\n--- stderr:\n${r.stderr.trim()}\n--- stdout:\n${r.stdout.trim().split('\n').slice(0, 12).join('\n')}`;

for (const { name, what } of declared) {
  test(`${name}: ${what}`, async (t) => {
    const c = cases.get(name);
    if (!c) return t.fail(`case ${name} is missing from cases.json`);
    if (c.skipAsRoot && isRoot) {
      t.log(`skipped: ${c.skipAsRoot}`);
      t.pass();
      finished.get(name)!.done();
      return;
    }
    try {
      await slot(() => check(t, c));
    } finally {
      finished.get(name)!.done();
    }
    if (c.sameAs) {
      await finished.get(c.sameAs)!.promise;
      const other = cases.get(c.sameAs)!;
      const missing = [c, other].map((x) => join(x.outputDir, 'reconstruction.npz')).filter((f) => !existsSync(f));
      if (missing.length > 0) return t.fail(`nothing to compare: no ${missing.join(', ')}`);
      const bytes = (a: { data: ArrayBufferView }) => Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength);
      const [mine, theirs] = await Promise.all([c, other].map((x) => readNpz(join(x.outputDir, 'reconstruction.npz'), ['object'])));
      t.deepEqual(mine.object.shape, theirs.object.shape, `the reconstruction has the shape of ${c.sameAs}'s`);
      t.true(bytes(mine.object).equals(bytes(theirs.object)), `the reconstruction equals ${c.sameAs}'s bit for bit`);
      const metrics = (x: BadCase) => {
        const { reference: _, ...numbers } = JSON.parse(readFileSync(join(x.outputDir, 'metrics.json'), 'utf8'));
        return numbers;
      };
      t.deepEqual(metrics(c), metrics(other), `metrics.json equals ${c.sameAs}'s (the objectGuess decoded the same)`);
    }
  });
}

async function check(t: ExecutionContext, c: BadCase): Promise<void> {
  // the clock starts with the run, not while it waits for a free slot
  t.timeout(120_000);
  const r = await run(c.args);
  t.log(`ptychopinn ${c.args.map((a) => (a === '' ? "''" : relative(DIR, a).startsWith('..') ? a : relative(DIR, a))).join(' ')}`);
  t.log(show(r));
  t.false(r.hung, `hung: killed after ${RUN_SECONDS} s`);
  t.false(r.overMemory, `resident memory passed ${MAX_RSS_KB / 1024 / 1024} GiB`);
  t.is(r.code, c.code, `expected exit ${c.code}`);
  t.regex(r.stderr, new RegExp(c.message), 'stderr');
  if (c.stdout) t.regex(r.stdout, new RegExp(c.stdout), 'stdout');
  // a crash, not a message: a stack trace or a JavaScript error class
  t.notRegex(r.stderr, /^\s+at .+:\d+:\d+\)?$/m, 'a stack trace on stderr');
  t.notRegex(r.stderr, /\b(TypeError|ReferenceError|RangeError|SyntaxError|Cannot read properties|undefined is not|is not a function)\b/, 'a JavaScript error on stderr');
  for (const file of c.present ?? []) t.true(existsSync(join(c.outputDir, file)), `${file} written`);
  for (const file of c.absent ?? []) t.false(existsSync(join(c.outputDir, file)), `no ${file}`);
  t.deepEqual(temporaries(c.outputDir), [], 'temporary files left in the output folder');
  // nothing outside the output folders changed (the files, the model, cases.json, the cwd),
  // and the output folders are the cases' own
  t.deepEqual(changes(baseline, snapshot()), [], 'written outside the output folder');
  const known = new Set(declared.map((d) => d.name));
  t.deepEqual(readdirSync(OUT).filter((f) => !known.has(f)), [], 'unexpected entries in out/');
}
