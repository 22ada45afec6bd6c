import type { ComplexArray } from './ndarray.js';

/**
 * The probe under a soft circular mask (--probe_mask): 1 inside radius N/2 - N/16, a cosine
 * taper to 0 at N/2, 0 beyond. It keeps the physics from explaining intensity with probe tails
 * that the measured probe does not really have.
 */
export function maskProbe(probe: ComplexArray): ComplexArray {
  const n = probe.shape[0];
  const outer = n / 2;
  const inner = outer - n / 16;
  const data = new Float32Array(probe.data.length);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const r = Math.hypot(i - n / 2, j - n / 2);
      const m = r <= inner ? 1 : r >= outer ? 0 : 0.5 * (1 + Math.cos((Math.PI * (r - inner)) / (outer - inner)));
      const k = 2 * (i * n + j);
      data[k] = probe.data[k] * m;
      data[k + 1] = probe.data[k + 1] * m;
    }
  }
  return { dtype: 'complex64', shape: [n, n], data };
}
