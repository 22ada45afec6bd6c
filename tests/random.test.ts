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

test('seed 42 gives the pinned sequence on every machine (checked against a Python big-integer model)', (t) => {
  const rng = new Rng(42);
  t.deepEqual([rng.nextUint32(), rng.nextUint32(), rng.nextUint32(), rng.nextUint32()], [2837322924, 544945897, 479756282, 3500138142]);
  t.throws(() => new Rng(-1), { message: /seed must be an integer in \[0, 2\^32\), got -1/ });
  t.throws(() => new Rng(1.5), { message: /seed must be an integer/ });
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

for (const lambda of [5, 40]) {
  test(`poisson(${lambda}) follows the Poisson probabilities (chi-square over 100k draws)`, (t) => {
    const rng = new Rng(11);
    const draws = 100_000;
    const hist = new Map<number, number>();
    for (let i = 0; i < draws; i++) {
      const k = rng.poisson(lambda);
      hist.set(k, (hist.get(k) ?? 0) + 1);
    }
    // bins of expected count >= 20, the two tails pooled into their neighbours
    let chi2 = 0;
    let bins = 0;
    let pmf = Math.exp(-lambda);
    let expectedTail = 0;
    let observedTail = 0;
    for (let k = 0; k < 10 * lambda + 50; k++) {
      if (k > 0) pmf *= lambda / k;
      expectedTail += draws * pmf;
      observedTail += hist.get(k) ?? 0;
      if (expectedTail >= 20) {
        chi2 += (observedTail - expectedTail) ** 2 / expectedTail;
        bins++;
        expectedTail = 0;
        observedTail = 0;
      }
    }
    const df = bins - 1;
    t.log(`chi-square ${chi2.toFixed(1)} on ${df} degrees of freedom`);
    t.true(chi2 < df + 5 * Math.sqrt(2 * df), `chi-square ${chi2} on ${df} degrees of freedom`);
  });
}

test('normal() has mean 0 and variance 1; shuffle permutes', (t) => {
  const rng = new Rng(4);
  const draws = 20_000;
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < draws; i++) {
    const z = rng.normal();
    sum += z;
    sq += z * z;
  }
  t.true(Math.abs(sum / draws) < 5 / Math.sqrt(draws), `mean ${sum / draws}`);
  t.true(Math.abs(sq / draws - 1) < 5 * Math.sqrt(2 / draws), `variance ${sq / draws}`);
  const a = Array.from({ length: 50 }, (_, i) => i);
  rng.shuffle(a);
  t.notDeepEqual(a, Array.from({ length: 50 }, (_, i) => i));
  t.deepEqual([...a].sort((p, q) => p - q), Array.from({ length: 50 }, (_, i) => i));
});

test('sampleWithoutReplacement draws distinct indices in range, every subset reachable', (t) => {
  const rng = new Rng(5);
  const picks = rng.sampleWithoutReplacement(1000, 300);
  t.is(new Set(picks).size, 300);
  t.true(picks.every((i) => i >= 0 && i < 1000));
  const seen = new Array(5).fill(0);
  for (let i = 0; i < 10_000; i++) for (const p of rng.sampleWithoutReplacement(5, 2)) seen[p]++;
  for (const s of seen) t.true(Math.abs(s - 4000) < 5 * 49);
  t.throws(() => rng.sampleWithoutReplacement(3, 4), { message: /cannot draw 4 of 3/ });
  // k << n costs O(k): a handful from two billion, instantly
  const few = rng.sampleWithoutReplacement(2 ** 31 - 1, 5);
  t.is(new Set(few).size, 5);
  t.true(few.every((i) => i >= 0 && i < 2 ** 31 - 1));
  t.is(rng.sampleWithoutReplacement(10, 0).length, 0);
});
