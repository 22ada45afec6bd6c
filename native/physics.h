// The physics forward model of SPEC section 6 and its Poisson likelihood.
#pragma once

#include <ATen/ATen.h>

namespace ptpinn::physics {

// Far-field intensity of the illuminated patch in the network's normalised units:
// |fftshift(FFT2_ortho(patch * probe))|^2 over the last two dims. patch: complex (..., N, N);
// probe: complex (N, N).
at::Tensor Intensity(const at::Tensor& patch, const at::Tensor& probe);

// Amplitude A = sqrt(Intensity): what the detector's amplitudes are compared with.
at::Tensor Diffract(const at::Tensor& patch, const at::Tensor& probe);

// Poisson negative log-likelihood of the measured amplitudes X given the modelled intensity I:
// sum over all but the batch dim of (I - X^2 log I), mean over the batch. xlogy keeps X = 0 exact.
at::Tensor PoissonNll(const at::Tensor& intensity, const at::Tensor& measured);

struct LossAndGradient {
  at::Tensor loss;      // scalar
  at::Tensor gradient;  // float (..., N, N, 2): dLoss/dRe(patch), dLoss/dIm(patch)
};

// The loss of `patch` against `measured`, and its gradient with respect to the patch's real and
// imaginary parts, through autograd.
LossAndGradient PoissonLossAndGradient(const at::Tensor& patch, const at::Tensor& probe,
                                       const at::Tensor& measured);

}  // namespace ptpinn::physics
