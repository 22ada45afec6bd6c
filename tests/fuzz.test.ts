// The readers under seeded mutation (bench/fuzz/run.ts): a few thousand cases here, 100,000 in the
// benchmark. Every case ends in success or a PtychoPinnError; no crash, no hang, no other error.
import test from 'ava';
import { runNode } from './helpers/cli.js';

test('3000 mutated NPY, NPZ, safetensors and bundle files give only clean errors', async (t) => {
  t.timeout(600_000);
  const run = await runNode(['--import=tsx', 'bench/fuzz/run.ts', '--cases', '3000', '--workers', '2', '--seed', '7']);
  t.is(run.code, 0, run.stderr);
  const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const summary = lines.find((l) => l.bench === 'fuzz');
  t.log(JSON.stringify(summary));
  for (const l of lines.filter((x) => x.finding)) t.log(JSON.stringify(l.finding));
  t.is(summary.cases, 3000);
  t.is(summary.ok + summary.clean_errors + summary.findings, 3000);
  t.is(summary.findings, 0);
  t.is(summary.crashes, 0);
  t.is(summary.hangs, 0);
  // the mutations reach past the first check: some cases still decode
  t.true(summary.ok > 100);
});
