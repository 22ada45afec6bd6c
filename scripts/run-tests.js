#!/usr/bin/env node
// @ts-check
// `npm test`: each test file in its own AVA process (TAP), closed by the line CI reads:
// `N passed, N failed`. --fast runs everything but the end-to-end cycle, --cycle the cycle alone.
//
// The counts come from the TAP test lines, never from AVA's summary: when AVA's reporter dies
// (AVA 7's TAP reporter throws after a timeout) the summary is missing or wrong. One process per
// file means a file that times out or crashes loses only its own tests, and the crash is counted
// as a failure with its message.
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
const options = extra.filter((a) => !a.endsWith('.ts'));
const files = named.length > 0 ? named : tier === 'all' ? all : all.filter((f) => (tier === 'cycle') === cycle(f));

// ava exports neither its CLI nor its package.json: find its folder from its main entry.
const main = createRequire(import.meta.url).resolve('ava');
const avaDir = main.slice(0, main.lastIndexOf('/node_modules/ava/') + '/node_modules/ava'.length);
const ava = join(avaDir, JSON.parse(readFileSync(join(avaDir, 'package.json'), 'utf8')).bin.ava);

/**
 * Counts one TAP stream's test lines. `ok N - x # SKIP` is a skip; `not ok` a failure.
 * @param {string[]} lines
 */
function countTap(lines) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const line of lines) {
    if (/^not ok\b/.test(line)) {
      if (/#\s*TODO\b/i.test(line)) skipped++;
      else failed++;
    } else if (/^ok\b/.test(line)) {
      if (/#\s*(SKIP|TODO)\b/i.test(line)) skipped++;
      else passed++;
    }
  }
  return { passed, failed, skipped };
}

/** @param {string} file */
function runFile(file) {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, [ava, '--tap', file, ...options], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    /** @type {string[]} */
    const lines = [];
    let pending = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      pending += chunk.toString('utf8');
      const split = pending.split('\n');
      pending = split.pop() ?? '';
      lines.push(...split);
    });
    child.stderr.on('data', (chunk) => {
      process.stderr.write(chunk);
      stderr += chunk.toString('utf8');
    });
    child.on('close', (code, signal) => {
      if (pending) lines.push(pending);
      const counts = countTap(lines);
      const crashed = code !== 0 && counts.failed === 0;
      if (crashed) {
        // a process that failed without a failing test line: a timeout, a crash or a dead reporter
        const why = stderr.trim().split('\n').filter(Boolean).slice(-3).join(' | ') || `exit ${code ?? signal}`;
        console.log(`not ok - ${file}: the test process ended with ${signal ?? `exit code ${code}`} outside any test: ${why}`);
        counts.failed++;
      }
      resolveRun(counts);
    });
  });
}

let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of files) {
  console.log(`# ${file}`);
  const started = performance.now();
  const counts = /** @type {{passed: number, failed: number, skipped: number}} */ (await runFile(file));
  console.log(`# ${file}: ${counts.passed} passed, ${counts.failed} failed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  passed += counts.passed;
  failed += counts.failed;
  skipped += counts.skipped;
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
