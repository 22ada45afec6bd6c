// The physics of SPEC section 6: illumination, far-field diffraction, the Poisson likelihood, and
// the gridsize > 1 merge of a group's patches on a shared canvas.
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

// Mean absolute error between modelled amplitudes sqrt(I) and measured amplitudes X.
at::Tensor AmplitudeMae(const at::Tensor& intensity, const at::Tensor& measured);

struct LossAndGradient {
  at::Tensor loss;      // scalar
  at::Tensor gradient;  // float (..., N, N, 2): dLoss/dRe(patch), dLoss/dIm(patch)
};

// The loss of `patch` against `measured`, and its gradient with respect to the patch's real and
// imaginary parts, through autograd.
LossAndGradient PoissonLossAndGradient(const at::Tensor& patch, const at::Tensor& probe, const at::Tensor& measured);

// Bilinear translation: images (M, K, H, W) real, shifts (M, 2) as (dx, dy) pixels. The result
// (M, K, outH, outW) holds at (a, b) the input at (a - cy - dy, b - cx - dx), where
// (cy, cx) = ((outH - H) / 2, (outW - W) / 2) centres the input; outside the input it is 0.
at::Tensor Translate(const at::Tensor& images, const at::Tensor& shifts, int64_t outH, int64_t outW);

// object_big: the group's C patches (B, C, N, N) complex, placed at their offsets (B, C, 2) =
// member position - centroid on a canvas that holds every offset, each counting only in its
// central N/2 x N/2, averaged where they overlap, and each member's patch cut back out; outside
// the union of the centres a member keeps its own values.
at::Tensor MergeGroup(const at::Tensor& patches, const at::Tensor& offsets);

// Fresnel propagation of a probe (N, N) by `defocus`, in pixel^2 units (lambda dz / dx^2): the
// spectrum is multiplied by exp(-i pi defocus |f|^2), f in cycles per pixel. Periodic.
at::Tensor Propagate(const at::Tensor& probe, double defocus);

// Throws std::invalid_argument unless every offset is finite and within 2N of its centroid: the
// merge canvas grows with the farthest offset, and members farther apart do not overlap at all.
void CheckOffsets(const at::Tensor& offsets, int64_t n);

}  // namespace ptpinn::physics
