import test from 'ava';
import { Rng } from '../lib/random.js';

test('the same seed gives the same sequence, another seed another', (t) => {
  const a = new Rng(7);
  const b = new Rng(7);
  const c = new Rng(8);
  const sa = Array.from({ length: 100 }, () => a.nextUint32());
  t.deepEqual(sa, Array.from({ length: 100 }, () => b.nextUint32()));
  t.notDeepEqual(sa, Array.from({ length: 100 }, () => c.nextUint32()));
});

test('xoshiro128** matches its reference output', (t) => {
  // state (1, 2, 3, 4) through the reference C code gives 11520, 0, 5927040, 70819200
  const rng = new Rng(0);
  (rng as unknown as { s: Uint32Array }).s.set([1, 2, 3, 4]);
  t.deepEqual([rng.nextUint32(), rng.nextUint32(), rng.nextUint32(), rng.nextUint32()], [11520, 0, 5927040, 70819200]);
});

test('uniforms fill [0, 1) evenly and int(n) has no bias', (t) => {
  const rng = new Rng(1);
  const bins = new Array(10).fill(0);
  for (let i = 0; i < 100_000; i++) bins[Math.floor(rng.next() * 10)]++;
  for (const b of bins) t.true(Math.abs(b - 10_000) < 5 * 95, `bin ${b}`); // 5 sigma
  const counts = new Array(3).fill(0);
  for (let i = 0; i < 30_000; i++) counts[rng.int(3)]++;
  for (const n of counts) t.true(Math.abs(n - 10_000) < 5 * 82);
});

for (const lambda of [0.5, 10, 1000, 1e5]) {
  test(`poisson(${lambda}) has mean and variance lambda`, (t) => {
    const rng = new Rng(3);
    const draws = 20_000;
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < draws; i++) {
      const k = rng.poisson(lambda);
      t.true(Number.isInteger(k) && k >= 0);
      sum += k;
      sq += k * k;
    }
    const mean = sum / draws;
    const variance = sq / draws - mean * mean;
    // standard errors: of the mean sqrt(l / n); of the variance about l sqrt(2 / n)
    t.true(Math.abs(mean - lambda) < 5 * Math.sqrt(lambda / draws), `mean ${mean}`);
    t.true(Math.abs(variance - lambda) < 5 * lambda * Math.sqrt(2 / draws) + 5 * Math.sqrt(lambda / draws), `variance ${variance}`);
  });
}

test('sampleWithoutReplacement draws distinct indices in range, every subset reachable', (t) => {
  const rng = new Rng(5);
  const picks = rng.sampleWithoutReplacement(1000, 300);
  t.is(new Set(picks).size, 300);
  t.true(picks.every((i) => i >= 0 && i < 1000));
  const seen = new Array(5).fill(0);
  for (let i = 0; i < 10_000; i++) for (const p of rng.sampleWithoutReplacement(5, 2)) seen[p]++;
  for (const s of seen) t.true(Math.abs(s - 4000) < 5 * 49);
  t.throws(() => rng.sampleWithoutReplacement(3, 4), { message: /cannot draw 4 of 3/ });
});
