#include "iterative.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace ptpinn::iterative {

namespace {

const auto kComplex = at::TensorOptions().dtype(at::kComplexFloat);
const auto kDouble = at::TensorOptions().dtype(at::kDouble);

at::Tensor Fft(const at::Tensor& t) { return at::fft_fft2(t, at::OptionalIntArrayRef(), {-2, -1}, "ortho"); }
at::Tensor Ifft(const at::Tensor& t) { return at::fft_ifft2(t, at::OptionalIntArrayRef(), {-2, -1}, "ortho"); }

// Where pattern k's patch starts on the canvas, and the sub-pixel rest of its position.
struct Placement {
  int64_t row, col;
  double fy, fx;
};

Placement Place(double x, double y, int64_t n, const stitching::Canvas& canvas) {
  const double fx = std::floor(x), fy = std::floor(y);
  return {static_cast<int64_t>(fy - n / 2 - canvas.originRow), static_cast<int64_t>(fx - n / 2 - canvas.originCol),
          y - fy, x - fx};
}

}  // namespace

Result Reconstruct(const at::Tensor& amplitudes, const at::Tensor& positions, const at::Tensor& probe,
                   const stitching::Canvas& canvas, const at::Tensor& initial, const Options& o,
                   const std::function<void(const Progress&)>& onProgress, const std::atomic<bool>& cancel) {
  const int64_t count = amplitudes.size(0), n = amplitudes.size(-1);
  const int64_t h = canvas.height, w = canvas.width;
  // the detector's order (zero frequency at the centre) undone once, so each update is a plain FFT
  const at::Tensor measured = at::fft_ifftshift(amplitudes.to(at::kFloat), at::IntArrayRef{-2, -1}).contiguous();
  at::Tensor object = initial.defined() ? initial.to(at::kComplexFloat).clone() : at::ones({h, w}, kComplex);
  at::Tensor p = probe.to(at::kComplexFloat).clone();
  at::Tensor pos = positions.to(at::kDouble).contiguous().clone();
  double* xy = pos.data_ptr<double>();
  // the patch and the one-pixel rim the position gradient reads must stay on the canvas
  auto inside = [&](const Placement& at) {
    return at.row >= 1 && at.col >= 1 && at.row + n + 1 <= h && at.col + n + 1 <= w;
  };
  for (int64_t k = 0; k < count; ++k) {
    if (!inside(Place(xy[2 * k], xy[2 * k + 1], n, canvas))) {
      throw std::invalid_argument("position " + std::to_string(k) + " puts its patch outside the " + std::to_string(h) +
                                  " x " + std::to_string(w) + " canvas");
    }
  }

  // The object-probe scale ambiguity, fixed by the data: |probe|^2 sums to the mean pattern total,
  // so a probe given at the wrong scale is corrected before the first update.
  const double power = measured.square().sum(at::IntArrayRef{1, 2}).mean().item<double>();
  const bool refine = o.probeStart < o.iterations;
  auto constrainPower = [&] {
    const double now = at::view_as_real(p).square().sum().item<double>();
    if (now > 0) p.mul_(std::sqrt(power / now));
  };
  if (refine) constrainPower();

  const at::Tensor freq = at::fft_fftfreq(n, 1.0, kDouble);
  // the Fourier factor that moves content by (fy, fx) pixels
  auto ramp = [&](double fy, double fx) {
    const at::Tensor ry = at::polar(at::ones({n}, kDouble), -2 * M_PI * fy * freq);
    const at::Tensor rx = at::polar(at::ones({n}, kDouble), -2 * M_PI * fx * freq);
    return (ry.unsqueeze(1) * rx.unsqueeze(0)).to(at::kComplexFloat);
  };

  Result out;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(o.seed);
  std::vector<double> moves(2 * count);
  for (int64_t it = 0; it < o.iterations && !out.cancelled; ++it) {
    const at::Tensor order = at::randperm(count, generator, at::TensorOptions().dtype(at::kLong));
    const auto* visit = order.data_ptr<int64_t>();
    const bool probeNow = it >= o.probeStart;
    const bool correct = o.positionStart >= 0 && it >= o.positionStart;
    // the probe's spectrum, reused by every pattern while the probe is fixed
    const at::Tensor fixedSpectrum = probeNow ? at::Tensor() : Fft(p);
    double residual = 0, total = 0;
    std::fill(moves.begin(), moves.end(), 0.0);
    for (int64_t step = 0; step < count; ++step) {
      if (step % 32 == 0 && cancel.load()) {
        out.cancelled = true;
        break;
      }
      const int64_t k = visit[step];
      const Placement at = Place(xy[2 * k], xy[2 * k + 1], n, canvas);
      const bool subpixel = at.fy != 0 || at.fx != 0;
      const at::Tensor shift = subpixel ? ramp(at.fy, at.fx) : at::Tensor();
      // the probe as it sits on this pattern's integer patch: moved by the sub-pixel rest
      const at::Tensor probeHere = subpixel ? Ifft((probeNow ? Fft(p) : fixedSpectrum) * shift) : p;
      at::Tensor view = object.narrow(0, at.row, n).narrow(1, at.col, n);
      const at::Tensor patch = view.clone();
      const at::Tensor exit = patch * probeHere;
      const at::Tensor far = Fft(exit);
      const at::Tensor magnitude = far.abs();
      const at::Tensor x = measured[k];
      residual += (magnitude - x).square().sum().item<double>();
      total += x.square().sum().item<double>();
      const at::Tensor change = Ifft(far * (x / magnitude.clamp_min(1e-12))) - exit;

      if (correct) {
        // the least-squares shift (dy, dx) that explains the change by moving the object:
        // change ~ probe (dy d/dy + dx d/dx) object
        const at::Tensor rim = object.narrow(0, at.row - 1, n + 2).narrow(1, at.col - 1, n + 2);
        const at::Tensor a =
            probeHere * (rim.narrow(0, 2, n).narrow(1, 1, n) - rim.narrow(0, 0, n).narrow(1, 1, n)) / 2;
        const at::Tensor b =
            probeHere * (rim.narrow(0, 1, n).narrow(1, 2, n) - rim.narrow(0, 1, n).narrow(1, 0, n)) / 2;
        auto dot = [](const at::Tensor& u, const at::Tensor& v) { return at::real(u.conj() * v).sum().item<double>(); };
        const double aa = dot(a, a), bb = dot(b, b), ab = dot(a, b), ra = dot(a, change), rb = dot(b, change);
        const double det = aa * bb - ab * ab;
        if (det > 1e-12 * (aa * bb + 1e-30)) {
          moves[2 * k] = (aa * rb - ab * ra) / det;      // x
          moves[2 * k + 1] = (bb * ra - ab * rb) / det;  // y
        }
      }

      const at::Tensor probePower = at::real(probeHere.conj() * probeHere);
      if (o.method == Method::kEpie) {
        view.add_(o.alpha * probeHere.conj() * change / probePower.max());
      } else {
        view.add_(probeHere.conj() * change / ((1 - o.alpha) * probePower + o.alpha * probePower.max()));
      }
      if (probeNow) {
        const at::Tensor objectPower = at::real(patch.conj() * patch);
        const at::Tensor update =
            o.method == Method::kEpie
                ? o.beta * patch.conj() * change / objectPower.max().clamp_min(1e-30)
                : patch.conj() * change / ((1 - o.beta) * objectPower + o.beta * objectPower.max()).clamp_min(1e-30);
        p.add_(subpixel ? Ifft(Fft(update) * shift.conj()) : update);
      }
    }
    if (out.cancelled) break;
    if (probeNow) constrainPower();
    if (correct) {
      // damped, at most half a pixel an iteration, and without a common drift: a translation of
      // every position together is an ambiguity of ptychography, not a correction
      double mean[2] = {0, 0};
      for (int64_t i = 0; i < 2 * count; ++i) {
        moves[i] = std::clamp(0.5 * moves[i], -0.5, 0.5);
        mean[i % 2] += moves[i] / count;
      }
      for (int64_t k = 0; k < count; ++k) {
        const double x = xy[2 * k] + moves[2 * k] - mean[0], y = xy[2 * k + 1] + moves[2 * k + 1] - mean[1];
        if (inside(Place(x, y, n, canvas))) {
          xy[2 * k] = x;
          xy[2 * k + 1] = y;
        }
      }
    }
    out.error.push_back(total > 0 ? residual / total : 0.0);
    onProgress({it + 1, o.iterations, out.error.back()});
  }
  // pixels the final probe hardly lights are not reconstructed: 0, as the PINN's stitching leaves
  // uncovered canvas, so that metrics and images see where the data ends
  at::Tensor light = at::zeros({h, w}, at::TensorOptions().dtype(at::kFloat));
  const at::Tensor probePower = at::real(p.conj() * p);
  for (int64_t k = 0; k < count; ++k) {
    const Placement at = Place(xy[2 * k], xy[2 * k + 1], n, canvas);
    light.narrow(0, at.row, n).narrow(1, at.col, n).add_(probePower);
  }
  out.object = at::where(light > 1e-2 * light.max(), object, at::zeros_like(object));
  out.probe = p;
  out.positions = pos;
  return out;
}

}  // namespace ptpinn::iterative
