// Independent float64 references for the physics: a plain DFT and the analytic gradient of the
// Poisson loss, written from the formulas, sharing no code with the package.

export type Complex = Float64Array; // interleaved re, im

/** Orthonormal 2-D DFT (sign -1 forward, +1 inverse) of an n x n interleaved complex image. */
export function dft2(src: Complex, n: number, sign: -1 | 1): Complex {
  const rows = new Float64Array(2 * n * n);
  const out = new Float64Array(2 * n * n);
  const norm = 1 / Math.sqrt(n);
  const pass = (input: Complex, output: Complex, along: 'row' | 'col') => {
    for (let line = 0; line < n; line++) {
      for (let k = 0; k < n; k++) {
        let re = 0;
        let im = 0;
        for (let j = 0; j < n; j++) {
          const idx = along === 'row' ? line * n + j : j * n + line;
          const angle = (sign * 2 * Math.PI * j * k) / n;
          const c = Math.cos(angle);
          const s = Math.sin(angle);
          re += input[2 * idx] * c - input[2 * idx + 1] * s;
          im += input[2 * idx] * s + input[2 * idx + 1] * c;
        }
        const o = along === 'row' ? line * n + k : k * n + line;
        output[2 * o] = re * norm;
        output[2 * o + 1] = im * norm;
      }
    }
  };
  pass(src, rows, 'row');
  pass(rows, out, 'col');
  return out;
}

/** Index of the fftshifted image's pixel (i, j) in the unshifted one. */
export const unshifted = (i: number, j: number, n: number) =>
  ((i + Math.floor(n / 2)) % n) * n + ((j + Math.floor(n / 2)) % n);

function illuminate(patch: Complex, probe: Complex): Complex {
  const psi = new Float64Array(patch.length);
  for (let p = 0; p < patch.length; p += 2) {
    psi[p] = patch[p] * probe[p] - patch[p + 1] * probe[p + 1];
    psi[p + 1] = patch[p] * probe[p + 1] + patch[p + 1] * probe[p];
  }
  return psi;
}

/** fftshifted intensity |DFT(patch * probe)|^2, row-major n x n. */
export function intensity(patch: Complex, probe: Complex, n: number): Float64Array {
  const field = dft2(illuminate(patch, probe), n, -1);
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const u = unshifted(i, j, n);
      out[i * n + j] = field[2 * u] ** 2 + field[2 * u + 1] ** 2;
    }
  }
  return out;
}

/** Sum over pixels of (I - X^2 log I) for one pattern (X = 0 contributes I exactly). */
export function poissonLoss(patch: Complex, probe: Complex, measured: ArrayLike<number>, n: number): number {
  const I = intensity(patch, probe, n);
  let loss = 0;
  for (let k = 0; k < n * n; k++) {
    const y = measured[k] ** 2;
    loss += I[k] - (y === 0 ? 0 : y * Math.log(I[k]));
  }
  return loss;
}

/**
 * dLoss/dRe + i dLoss/dIm of poissonLoss with respect to the patch: with Phi = F(psi) and
 * I = |Phi|^2, the gradient in Phi is 2 Phi (1 - X^2 / I); F is unitary so the gradient in psi
 * is F^H of it; psi = patch * probe gives conj(probe) times that.
 */
export function poissonGradient(patch: Complex, probe: Complex, measured: ArrayLike<number>, n: number): Complex {
  const field = dft2(illuminate(patch, probe), n, -1);
  const gField = new Float64Array(2 * n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const u = unshifted(i, j, n);
      const I = field[2 * u] ** 2 + field[2 * u + 1] ** 2;
      const w = 2 * (1 - measured[i * n + j] ** 2 / I);
      gField[2 * u] = w * field[2 * u];
      gField[2 * u + 1] = w * field[2 * u + 1];
    }
  }
  const gPsi = dft2(gField, n, 1);
  const out = new Float64Array(2 * n * n);
  for (let p = 0; p < out.length; p += 2) {
    out[p] = probe[p] * gPsi[p] + probe[p + 1] * gPsi[p + 1];
    out[p + 1] = probe[p] * gPsi[p + 1] - probe[p + 1] * gPsi[p];
  }
  return out;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
