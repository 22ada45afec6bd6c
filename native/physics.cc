#include "physics.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace ptpinn::physics {

at::Tensor Intensity(const at::Tensor& patch, const at::Tensor& probe) {
  const at::Tensor field = at::fft_fft2(patch * probe, at::OptionalIntArrayRef(), {-2, -1}, "ortho");
  const at::Tensor shifted = at::fft_fftshift(field, at::IntArrayRef{-2, -1});
  const at::Tensor parts = at::view_as_real(shifted);
  return parts.select(-1, 0).square() + parts.select(-1, 1).square();
}

at::Tensor Diffract(const at::Tensor& patch, const at::Tensor& probe) { return Intensity(patch, probe).sqrt(); }

at::Tensor PoissonNll(const at::Tensor& intensity, const at::Tensor& measured) {
  const at::Tensor perPixel = intensity - at::xlogy(measured.square(), intensity);
  return perPixel.reshape({perPixel.size(0), -1}).sum(1).mean();
}

at::Tensor AmplitudeMae(const at::Tensor& intensity, const at::Tensor& measured) {
  // the small floor keeps sqrt's gradient finite where the model predicts no light
  return (intensity.clamp_min(1e-12).sqrt() - measured).abs().mean();
}

LossAndGradient PoissonLossAndGradient(const at::Tensor& patch, const at::Tensor& probe, const at::Tensor& measured) {
  // Differentiate with respect to the real view so the result is plainly (dL/dRe, dL/dIm),
  // independent of LibTorch's conjugate-Wirtinger convention for complex leaves.
  at::Tensor parts = at::view_as_real(patch).detach().clone().set_requires_grad(true);
  at::Tensor loss = PoissonNll(Intensity(at::view_as_complex(parts), probe), measured);
  loss.backward();
  return {loss.detach(), parts.grad()};
}

at::Tensor Translate(const at::Tensor& images, const at::Tensor& shifts, int64_t outH, int64_t outW) {
  const int64_t h = images.size(2), w = images.size(3);
  const auto opts = images.options();
  // source pixel of each output pixel, normalised for grid_sample with align_corners = true
  const at::Tensor rows = at::arange(outH, opts) - (outH - h) / 2.0;
  const at::Tensor cols = at::arange(outW, opts) - (outW - w) / 2.0;
  const at::Tensor dx = shifts.select(1, 0).to(opts.dtype()).view({-1, 1, 1});
  const at::Tensor dy = shifts.select(1, 1).to(opts.dtype()).view({-1, 1, 1});
  const at::Tensor gx = (cols.view({1, 1, outW}) - dx) * (2.0 / std::max<int64_t>(w - 1, 1)) - 1;
  const at::Tensor gy = (rows.view({1, outH, 1}) - dy) * (2.0 / std::max<int64_t>(h - 1, 1)) - 1;
  const int64_t m = images.size(0);
  const at::Tensor grid = at::stack({gx.expand({m, outH, outW}), gy.expand({m, outH, outW})}, -1);
  return at::grid_sampler(images, grid, /*bilinear*/ 0, /*zeros*/ 0, /*align_corners*/ true);
}

at::Tensor MergeGroup(const at::Tensor& patches, const at::Tensor& offsets) {
  const int64_t b = patches.size(0), c = patches.size(1), n = patches.size(-1);
  // a canvas that holds every member: the reference's fixed size silently cut far offsets off
  const double reach = offsets.abs().max().item<double>();
  const int64_t canvas = n + 2 * (static_cast<int64_t>(std::ceil(reach)) + 1);
  const auto real = at::view_as_real(patches).permute({0, 1, 4, 2, 3}).reshape({b * c, 2, n, n});
  at::Tensor mask = at::zeros({n, n}, real.options());
  mask.narrow(0, n / 4, n / 2).narrow(1, n / 4, n / 2).fill_(1);
  const at::Tensor weighted = at::cat({real * mask, mask.expand({b * c, 1, n, n})}, 1);
  const at::Tensor shifts = offsets.reshape({b * c, 2});
  const at::Tensor placed = Translate(weighted, shifts, canvas, canvas).view({b, c, 3, canvas, canvas}).sum(1);
  const at::Tensor count = placed.narrow(1, 2, 1);
  // the average where some member's centre counts, and how much counts there (1 inside the
  // union of the centres, a bilinear ramp at its edge, 0 outside)
  const at::Tensor merged = at::cat({placed.narrow(1, 0, 2) / count.clamp_min(1), count.clamp_max(1)}, 1);
  const at::Tensor perMember =
      merged.unsqueeze(1).expand({b, c, 3, canvas, canvas}).reshape({b * c, 3, canvas, canvas});
  const at::Tensor cut = Translate(perMember, -shifts, n, n);
  // Outside the union of the centres each member keeps its own prediction: the probe lights the
  // whole N x N patch (28 % of Run1084's probe power falls outside the central N/2 x N/2), and an
  // object forced to zero there cannot explain the data. At the reference's budget (1087
  // positions, 20 epochs, gridsize 2) this took phase SSIM from 0.644 to 0.872.
  const at::Tensor coverage = cut.narrow(1, 2, 1);
  const at::Tensor out = cut.narrow(1, 0, 2) + (1 - coverage) * real;
  return at::view_as_complex(out.view({b, c, 2, n, n}).permute({0, 1, 3, 4, 2}).contiguous());
}

at::Tensor Propagate(const at::Tensor& probe, double defocus) {
  const int64_t n = probe.size(-1);
  const auto opts = at::TensorOptions().dtype(at::kDouble);
  const at::Tensor f = at::fft_fftfreq(n, 1.0, opts);
  const at::Tensor phase = -M_PI * defocus * (f.square().unsqueeze(1) + f.square().unsqueeze(0));
  const at::Tensor kernel = at::polar(at::ones_like(phase), phase);
  return at::fft_ifft2(at::fft_fft2(probe.to(at::kComplexDouble)) * kernel).to(at::kComplexFloat);
}

void CheckOffsets(const at::Tensor& offsets, int64_t n) {
  if (offsets.numel() == 0) return;
  if (!at::isfinite(offsets).all().item<bool>()) {
    throw std::invalid_argument("group offsets must be finite");
  }
  const double reach = offsets.abs().max().item<double>();
  if (reach > 2.0 * static_cast<double>(n)) {
    throw std::invalid_argument("a group member lies " + std::to_string(reach) +
                                " px from its group's centroid, more than 2N = " + std::to_string(2 * n) +
                                ": such patches do not overlap");
  }
}

}  // namespace ptpinn::physics
