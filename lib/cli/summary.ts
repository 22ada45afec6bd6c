// Comparisons and iterations as the lines a person reads.
import type { Comparison, Scores } from '../metrics.js';

const f = (v: number | null, digits = 3) => (v === null ? 'inf' : v.toFixed(digits));

function resolution(s: Scores): string {
  return s.frc.resolution === null ? 'FRC above half-bit to Nyquist (<= 1 px)' : `FRC half-period ${s.frc.resolution.toFixed(2)} px`;
}

export function describeComparison(c: Comparison): string[] {
  const r = c.region;
  return [
    `region rows ${r.top}-${r.bottom}, columns ${r.left}-${r.right} (${c.pixels} pixels); shift ${c.shift.map((v) => v.toFixed(2)).join(', ')} px; ` +
      `phase offset ${c.phaseOffset.toFixed(3)} rad, ramp ${c.phaseRamp.map((v) => v.toExponential(2)).join(', ')} rad/px; amplitude x ${c.amplitudeScale.toPrecision(4)}`,
    `phase:     SSIM ${f(c.phase.ssim)}, correlation ${f(c.phase.correlation)}, PSNR ${f(c.phase.psnr, 2)} dB, MAE ${f(c.phase.mae, 4)} rad, ${resolution(c.phase)}`,
    `amplitude: SSIM ${f(c.amplitude.ssim)}, correlation ${f(c.amplitude.correlation)}, PSNR ${f(c.amplitude.psnr, 2)} dB, MAE ${f(c.amplitude.mae, 4)}, ${resolution(c.amplitude)}`,
    `complex correlation ${f(c.complexCorrelation, 4)} (SSIM and PSNR use the reference's range: amplitude ${c.amplitude.dataRange.toPrecision(3)}, phase ${c.phase.dataRange.toPrecision(3)} rad)`,
  ];
}
