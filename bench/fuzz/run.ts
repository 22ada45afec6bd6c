// Seeded mutation fuzzing of the NPY, NPZ, safetensors and bundle readers (issue 15). Each case
// must end in success or a PtychoPinnError; anything else is a finding. Workers are child
// processes, so a crash or a hang is counted against its case and the run goes on from the next.
//
//   npx tsx bench/fuzz/run.ts [--cases 100000] [--seed 1] [--workers 2] [--case K]
// Prints one JSON line: cases, outcomes, findings (with their case numbers), machine and commit.
import { execFileSync, fork } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const opt = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const single = opt('case', -1);
const total = single >= 0 ? 1 : opt('cases', 100_000);
const seed = opt('seed', 1);
const workers = single >= 0 ? 1 : opt('workers', 2);
const HANG_MS = 10_000;
const RSS_LIMIT = 2 * 2 ** 30;
const worker = fileURLToPath(new URL('./worker.ts', import.meta.url));

const counts = { ok: 0, clean_errors: 0, findings: 0, crashes: 0, hangs: 0 };
const findings: { case: number; reader?: string; how?: string; what: string }[] = [];
let peakRss = 0;
const started = performance.now();

// Runs cases [from, to) in one child; a child that dies or hangs is replaced after that case.
function slice(from: number, to: number): Promise<void> {
  return new Promise((done) => {
    let current = from;
    let finished = false;
    const child = fork(worker, [String(from), String(to), String(seed)], { execArgv: ['--import=tsx'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    child.stderr!.on('data', (d) => { stderr = (stderr + d).slice(-2000); });
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        counts.hangs++;
        findings.push({ case: current, what: `hang over ${HANG_MS} ms` });
        child.kill('SIGKILL');
      }, HANG_MS);
    };
    arm();
    child.on('message', (m: { case?: number; started?: boolean; outcome?: string; reader?: string; how?: string; detail?: string; rss?: number; done?: boolean }) => {
      if (m.done) { finished = true; return; }
      if (m.started) { current = m.case!; arm(); return; }
      peakRss = Math.max(peakRss, m.rss ?? 0);
      if (m.outcome === 'ok') counts.ok++;
      else if (m.outcome === 'clean') counts.clean_errors++;
      else {
        counts.findings++;
        findings.push({ case: m.case!, reader: m.reader, how: m.how, what: m.detail! });
      }
      if ((m.rss ?? 0) > RSS_LIMIT) {
        findings.push({ case: m.case!, reader: m.reader, how: m.how, what: `RSS ${m.rss} bytes` });
        counts.findings++;
      }
      current = m.case! + 1;
      arm();
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (finished || current >= to) return done();
      const hung = findings.at(-1)?.case === current && findings.at(-1)?.what.startsWith('hang');
      if (!hung) {
        counts.crashes++;
        findings.push({ case: current, what: `worker died (${signal ?? `exit ${code}`}): ${stderr.trim().split('\n').slice(-2).join(' | ')}` });
      }
      slice(current + 1, to).then(done);
    });
  });
}

const first = Math.max(single , 0);
const per = Math.ceil(total / workers);
await Promise.all(Array.from({ length: workers }, (_, w) => slice(first + w * per, first + Math.min(total, (w + 1) * per))));

let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
} catch {
  // not a git checkout
}
console.log(JSON.stringify({
  bench: 'fuzz', cases: total, seed, workers, ...counts, peak_worker_rss_mb: Math.round(peakRss / 2 ** 20),
  seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
  machine: { cpu: cpus()[0]?.model, cores: cpus().length }, commit,
}));
for (const f of findings.slice(0, 20)) console.log(JSON.stringify({ finding: f }));
