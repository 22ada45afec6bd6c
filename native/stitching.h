// Patches in and out of an object at sub-pixel scan positions (SPEC sections 2 and 7).
#pragma once

#include <ATen/ATen.h>

namespace ptpinn::stitching {

// The N x N patches of a complex object (H, W) at positions (K, 2) = (x, y) in object pixels:
// patch k at (i, j) is the object at row y_k - N/2 + i, column x_k - N/2 + j, bilinear between
// pixels and 0 outside the object. Returns complex (K, N, N).
at::Tensor ExtractPatches(const at::Tensor& object, const at::Tensor& positions, int64_t n);

struct Canvas {
  double originRow, originCol;  // object coordinates of canvas pixel [0, 0]
  int64_t height, width;
};

// Running sums of a stitch, patches added batch by batch: a streamed reconstruction holds the
// canvas and one batch, never every patch. Finish gives what Stitch gives for all of them at once.
class CanvasSum {
 public:
  CanvasSum(const Canvas& canvas, const at::Tensor& weights);
  // continues a stitch from its running sums (H * W, 3), e.g. an earlier chunk's; adds to them in
  // place (the caller's copy: a large canvas is not copied again)
  CanvasSum(const Canvas& canvas, const at::Tensor& weights, const at::Tensor& sums);
  // patches (K, N, N) complex at positions (K, 2) = (x, y)
  void Add(const at::Tensor& patches, const at::Tensor& positions);
  at::Tensor Finish(double floor) const;
  const at::Tensor& Sums() const { return sums_; }

 private:
  Canvas canvas_;
  at::Tensor weights_;  // (1, N, N, 1)
  at::Tensor sums_;     // (H * W, 3): weighted real, weighted imaginary, weight
};

// Patches (K, N, N) complex splatted bilinearly at their positions (K, 2) = (x, y), each weighted
// by `weights` (N, N), summed, and divided by the summed weights where those exceed
// `floor` x their maximum (0 elsewhere). Returns the complex (H, W) object.
at::Tensor Stitch(const at::Tensor& patches, const at::Tensor& positions, const at::Tensor& weights,
                  const Canvas& canvas, double floor);

// Stitch after aligning phases: every patch's loss is blind to a global phase of its group (one
// patch at gridsize 1, C patches merged at gridsize > 1), so groups arrive with unrelated phase
// offsets that an average cancels (half the amplitude, streaks at window edges). Each pass stitches,
// then turns each group by the phase of its overlap with the stitched object. `groups` (K) long:
// the group of each patch.
at::Tensor StitchAligned(const at::Tensor& patches, const at::Tensor& positions, const at::Tensor& weights,
                         const Canvas& canvas, double floor, const at::Tensor& groups, int64_t passes);

}  // namespace ptpinn::stitching
