// A seeded generator whose sequence is the same on every machine: xoshiro128** (Blackman and
// Vigna, 2018, https://prng.di.unimi.it/xoshiro128starstar.c) seeded through splitmix32. Only
// 32-bit integer arithmetic (Math.imul, >>> 0) feeds the state, so no platform rounding can leak in.
import { ArgumentError } from './errors.js';

/** A seeded random number generator (xoshiro128**): the same seed gives the same numbers everywhere. */
export class Rng {
  private s = new Uint32Array(4);

  /** `seed`: an integer in [0, 2^32). */
  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new ArgumentError(`seed must be an integer in [0, 2^32), got ${seed}`);
    }
    // splitmix32 (golden-ratio increment, murmur3 finaliser) spreads nearby seeds over the whole
    // state and cannot give the all-zero state xoshiro never leaves.
    let x = seed;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  /** The next 32 random bits, as an unsigned integer. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits (every double of the form m / 2^53). */
  next(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n), n <= 2^32, without modulo bias (rejection of the top remainder). */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 2 ** 32) throw new ArgumentError(`int(n) needs an integer n in [1, 2^32], got ${n}`);
    const limit = 2 ** 32 - (2 ** 32 % n);
    for (;;) {
      const r = this.nextUint32();
      if (r < limit) return r % n;
    }
  }

  /** Fisher-Yates, in place. */
  shuffle<T>(array: T[] | Int32Array | Float64Array): void {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
  }

  /**
   * k distinct indices of [0, n), in random order. Floyd's algorithm: O(k) time and memory
   * whatever n, so drawing 10 of a million costs 10 steps, not a million-entry permutation.
   */
  sampleWithoutReplacement(n: number, k: number): Int32Array {
    if (!Number.isInteger(n) || n < 0 || n > 2 ** 31 - 1) throw new ArgumentError(`sampleWithoutReplacement needs an integer n in [0, 2^31), got ${n}`);
    if (!Number.isInteger(k) || k < 0 || k > n) throw new ArgumentError(`cannot draw ${k} of ${n} without replacement`);
    const chosen = new Set<number>();
    const out = new Int32Array(k);
    let m = 0;
    for (let j = n - k; j < n; j++) {
      const t = this.int(j + 1);
      const pick = chosen.has(t) ? j : t;
      chosen.add(pick);
      out[m++] = pick;
    }
    // Floyd's set is uniform but its order is not (late picks favour large indices): shuffle it.
    this.shuffle(out);
    return out;
  }

  /** Standard normal (Box-Muller, one value per pair of uniforms, so no hidden state). */
  normal(): number {
    const u = 1 - this.next(); // (0, 1]: log(u) is finite
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /**
   * A Poisson draw of mean lambda, exact at every lambda. Below 30, Knuth's product of uniforms
   * (cost O(lambda), exp(-30) is far above the smallest double); from 30 on, PTRS, the transformed
   * rejection of Hörmann (1993, "The transformed rejection method for generating Poisson random
   * variables", Insurance: Mathematics and Economics 12), valid for lambda >= 10 at O(1) cost.
   */
  poisson(lambda: number): number {
    if (!(lambda >= 0) || !Number.isFinite(lambda)) throw new ArgumentError(`poisson needs a finite mean >= 0, got ${lambda}`);
    if (lambda === 0) return 0;
    if (lambda < 30) {
      const limit = Math.exp(-lambda);
      let k = 0;
      let p = this.next();
      while (p > limit) {
        k++;
        p *= this.next();
      }
      return k;
    }
    const slam = Math.sqrt(lambda);
    const logLam = Math.log(lambda);
    const b = 0.931 + 2.53 * slam;
    const a = -0.059 + 0.02483 * b;
    const invAlpha = 1.1239 + 1.1328 / (b - 3.4);
    const vr = 0.9277 - 3.6224 / (b - 2);
    for (;;) {
      const u = this.next() - 0.5;
      const v = this.next();
      const us = 0.5 - Math.abs(u);
      const k = Math.floor(((2 * a) / us + b) * u + lambda + 0.43);
      if (us >= 0.07 && v <= vr) return k;
      if (k < 0 || (us < 0.013 && v > us)) continue;
      if (Math.log(v) + Math.log(invAlpha) - Math.log(a / (us * us) + b) <= -lambda + k * logLam - logGamma(k + 1)) return k;
    }
  }
}

const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

/** log(Gamma(x)) for x >= 1 (Lanczos, g = 7, 9 terms: ~1e-15 relative). */
function logGamma(x: number): number {
  const z = x - 1;
  let sum = LANCZOS[0];
  for (let i = 1; i < 9; i++) sum += LANCZOS[i] / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

const LANCZOS = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
  -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
