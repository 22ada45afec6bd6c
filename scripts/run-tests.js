#!/usr/bin/env node
// @ts-check
// `npm test`: AVA with TAP output, closed by the line CI reads: `N passed, N failed`.
// --fast runs everything but the end-to-end cycle, --cycle the cycle alone.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const argv = process.argv.slice(2);
const tier = argv.includes('--cycle') ? 'cycle' : argv.includes('--fast') ? 'fast' : 'all';
const extra = argv.filter((a) => a !== '--cycle' && a !== '--fast');
const cycle = (/** @type {string} */ f) => /(^|\/)cycle[^/]*\.test\.ts$/.test(f);
const all = readdirSync('tests', { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.test.ts')).map((f) => `tests/${f}`).sort();
const named = extra.filter((a) => a.endsWith('.ts'));
const files = named.length > 0 ? [] : tier === 'all' ? all : all.filter((f) => (tier === 'cycle') === cycle(f));

// ava exports neither its CLI nor its package.json: find its folder from its main entry.
const main = createRequire(import.meta.url).resolve('ava');
const avaDir = main.slice(0, main.lastIndexOf('/node_modules/ava/') + '/node_modules/ava'.length);
const ava = join(avaDir, JSON.parse(readFileSync(join(avaDir, 'package.json'), 'utf8')).bin.ava);
const child = spawn(process.execPath, [ava, '--tap', ...files, ...extra], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
let pass = -1;
let fail = -1;
let okLines = 0;
let notOkLines = 0;
let pending = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  pending += chunk.toString('utf8');
  const lines = pending.split('\n');
  pending = lines.pop() ?? '';
  for (const line of lines) {
    const summary = /^# (pass|fail) (\d+)/.exec(line);
    if (summary) {
      if (summary[1] === 'pass') pass = Number(summary[2]);
      else fail = Number(summary[2]);
    } else if (/^not ok\b/.test(line)) notOkLines++;
    else if (/^ok\b/.test(line)) okLines++;
  }
});
child.on('close', (code) => {
  // AVA prints no summary when it dies early; count the test lines it did print then.
  const passed = pass >= 0 ? pass : okLines;
  let failed = fail >= 0 ? fail : notOkLines;
  if (code !== 0 && failed === 0) failed = 1;
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(code ?? 1);
});
