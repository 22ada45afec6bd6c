#include "physics.h"

namespace ptpinn::physics {

at::Tensor Intensity(const at::Tensor& patch, const at::Tensor& probe) {
  const at::Tensor field =
      at::fft_fft2(patch * probe, at::OptionalIntArrayRef(), {-2, -1}, "ortho");
  const at::Tensor shifted = at::fft_fftshift(field, at::IntArrayRef{-2, -1});
  const at::Tensor parts = at::view_as_real(shifted);
  return parts.select(-1, 0).square() + parts.select(-1, 1).square();
}

at::Tensor Diffract(const at::Tensor& patch, const at::Tensor& probe) {
  return Intensity(patch, probe).sqrt();
}

at::Tensor PoissonNll(const at::Tensor& intensity, const at::Tensor& measured) {
  const at::Tensor perPixel = intensity - at::xlogy(measured.square(), intensity);
  return perPixel.reshape({perPixel.size(0), -1}).sum(1).mean();
}

LossAndGradient PoissonLossAndGradient(const at::Tensor& patch, const at::Tensor& probe,
                                       const at::Tensor& measured) {
  // Differentiate with respect to the real view so the result is plainly (dL/dRe, dL/dIm),
  // independent of LibTorch's conjugate-Wirtinger convention for complex leaves.
  at::Tensor parts = at::view_as_real(patch).detach().clone().set_requires_grad(true);
  at::Tensor loss = PoissonNll(Intensity(at::view_as_complex(parts), probe), measured);
  loss.backward();
  return {loss.detach(), parts.grad()};
}

}  // namespace ptpinn::physics
