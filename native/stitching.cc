#include "stitching.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace ptpinn::stitching {

at::Tensor ExtractPatches(const at::Tensor& object, const at::Tensor& positions, int64_t n) {
  const int64_t h = object.size(0), w = object.size(1), k = positions.size(0);
  const auto opts = at::TensorOptions().dtype(at::kDouble);
  const at::Tensor pos = positions.to(at::kDouble);
  const at::Tensor offsets = at::arange(n, opts) - n / 2;
  // one grid_sample call over a (1, K*N, N) grid: no copy of the object per patch
  const at::Tensor cols = pos.select(1, 0).view({k, 1, 1}) + offsets.view({1, 1, n});
  const at::Tensor rows = pos.select(1, 1).view({k, 1, 1}) + offsets.view({1, n, 1});
  const at::Tensor gx = cols.expand({k, n, n}) * (2.0 / (w - 1)) - 1;
  const at::Tensor gy = rows.expand({k, n, n}) * (2.0 / (h - 1)) - 1;
  const at::Tensor grid = at::stack({gx, gy}, -1).to(at::kFloat).view({1, k * n, n, 2});
  const at::Tensor image = at::view_as_real(object.to(at::kComplexFloat)).permute({2, 0, 1}).unsqueeze(0);
  const at::Tensor sampled = at::grid_sampler(image, grid, 0, 0, true);  // (1, 2, K*N, N)
  return at::view_as_complex(sampled.squeeze(0).permute({1, 2, 0}).contiguous()).view({k, n, n});
}

CanvasSum::CanvasSum(const Canvas& canvas, const at::Tensor& weights)
    : CanvasSum(canvas, weights, at::zeros({canvas.height * canvas.width, 3}, at::TensorOptions().dtype(at::kFloat))) {}

CanvasSum::CanvasSum(const Canvas& canvas, const at::Tensor& weights, const at::Tensor& sums)
    : canvas_(canvas),
      weights_(weights.to(at::kFloat).view({1, weights.size(-2), weights.size(-1), 1})),
      sums_(sums.to(at::kFloat).reshape({canvas.height * canvas.width, 3})) {}

void CanvasSum::Add(const at::Tensor& patches, const at::Tensor& positions) {
  const int64_t k = patches.size(0), n = patches.size(-1);
  if (k == 0) return;
  const int64_t h = canvas_.height, w = canvas_.width;
  // top-left corner of each patch on the canvas, split into whole and fractional pixels
  const at::Tensor pos = positions.to(at::kDouble);
  const at::Tensor top = pos.select(1, 1) - n / 2 - canvas_.originRow;
  const at::Tensor left = pos.select(1, 0) - n / 2 - canvas_.originCol;
  const at::Tensor row0 = top.floor(), col0 = left.floor();
  if (row0.min().item<double>() < 0 || col0.min().item<double>() < 0 || row0.max().item<double>() + n + 1 > h ||
      col0.max().item<double>() + n + 1 > w) {
    throw std::out_of_range("a patch falls outside the " + std::to_string(h) + " x " + std::to_string(w) + " canvas");
  }
  const at::Tensor fy = (top - row0).to(at::kFloat).view({k, 1, 1, 1});
  const at::Tensor fx = (left - col0).to(at::kFloat).view({k, 1, 1, 1});

  // (K, N, N, 3): weighted real, weighted imaginary, weight
  const at::Tensor values =
      at::cat({at::view_as_real(patches.to(at::kComplexFloat)) * weights_, weights_.expand({k, n, n, 1})}, -1);
  // bilinear splat onto (N + 1) x (N + 1): the four whole-pixel neighbours of each sample
  auto shifted = [&](int64_t down, int64_t right) {
    return at::constant_pad_nd(values, {0, 0, right, 1 - right, down, 1 - down}, 0);
  };
  const at::Tensor splat = shifted(0, 0) * ((1 - fy) * (1 - fx)) + shifted(1, 0) * (fy * (1 - fx)) +
                           shifted(0, 1) * ((1 - fy) * fx) + shifted(1, 1) * (fy * fx);
  const at::Tensor local = at::arange(n + 1, at::TensorOptions().dtype(at::kLong));
  const at::Tensor rowIdx = row0.to(at::kLong).view({k, 1, 1}) + local.view({1, n + 1, 1});
  const at::Tensor colIdx = col0.to(at::kLong).view({k, 1, 1}) + local.view({1, 1, n + 1});
  sums_.index_add_(0, (rowIdx * w + colIdx).reshape({-1}), splat.reshape({-1, 3}));
}

at::Tensor CanvasSum::Finish(double floor) const {
  const at::Tensor weight = sums_.select(1, 2);
  const double threshold = floor * std::max(weight.max().item<double>(), 0.0);
  const at::Tensor covered = weight > threshold;
  const at::Tensor safe = at::where(covered, weight, at::ones_like(weight)).unsqueeze(1);
  const at::Tensor object = at::where(covered.unsqueeze(1), sums_.narrow(1, 0, 2) / safe, at::zeros_like(safe));
  return at::view_as_complex(object.contiguous()).view({canvas_.height, canvas_.width});
}

at::Tensor Stitch(const at::Tensor& patches, const at::Tensor& positions, const at::Tensor& weights,
                  const Canvas& canvas, double floor) {
  CanvasSum sum(canvas, weights);
  sum.Add(patches, positions);
  return sum.Finish(floor);
}

at::Tensor StitchAligned(const at::Tensor& patches, const at::Tensor& positions, const at::Tensor& weights,
                         const Canvas& canvas, double floor, const at::Tensor& groups, int64_t passes) {
  const int64_t k = patches.size(0), n = patches.size(-1);
  if (k == 0) return Stitch(patches, positions, weights, canvas, floor);
  const int64_t count = groups.max().item<int64_t>() + 1;
  const at::Tensor pos = positions.to(at::kDouble).contiguous();
  const auto xy = pos.accessor<double, 2>();
  const auto group = groups.to(at::kLong).contiguous();
  const auto* g = group.data_ptr<int64_t>();
  const at::Tensor w = weights.to(at::kFloat);
  at::Tensor aligned = patches.to(at::kComplexFloat).contiguous();

  // First, grow the object outwards from the scan's centre, each group turned to agree with what
  // is already placed where they overlap: one sweep settles what rounds of averaging (which
  // spread a phase only as far as one overlap per round) take dozens of rounds to reach.
  std::vector<std::vector<int64_t>> members(count);
  std::vector<double> cx(count, 0), cy(count, 0);
  double mx = 0, my = 0;
  for (int64_t i = 0; i < k; ++i) {
    members[g[i]].push_back(i);
    cx[g[i]] += xy[i][0];
    cy[g[i]] += xy[i][1];
    mx += xy[i][0] / k;
    my += xy[i][1] / k;
  }
  std::vector<int64_t> order;
  for (int64_t j = 0; j < count; ++j) {
    if (members[j].empty()) continue;
    cx[j] /= members[j].size();
    cy[j] /= members[j].size();
    order.push_back(j);
  }
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return std::hypot(cx[a] - mx, cy[a] - my) < std::hypot(cx[b] - mx, cy[b] - my);
  });
  at::Tensor sum = at::zeros({canvas.height, canvas.width}, at::TensorOptions().dtype(at::kComplexFloat));
  auto window = [&](int64_t i) {
    // the patch's whole-pixel footprint (the bilinear spill is ignored: a phase needs no more)
    const int64_t row = static_cast<int64_t>(std::floor(xy[i][1] - n / 2 - canvas.originRow));
    const int64_t col = static_cast<int64_t>(std::floor(xy[i][0] - n / 2 - canvas.originCol));
    return sum.narrow(0, std::clamp<int64_t>(row, 0, canvas.height - n), n)
        .narrow(1, std::clamp<int64_t>(col, 0, canvas.width - n), n);
  };
  for (const int64_t j : order) {
    c10::complex<double> overlap(0, 0);
    for (const int64_t i : members[j])
      overlap += (window(i) * aligned[i].conj() * w).sum().item<c10::complex<double>>();
    const double size = std::abs(overlap);
    const c10::complex<float> turn =
        size > 0 ? c10::complex<float>(overlap.real() / size, overlap.imag() / size) : c10::complex<float>(1, 0);
    for (const int64_t i : members[j]) {
      aligned[i].mul_(turn);
      window(i).add_(aligned[i] * w);
    }
  }

  // then rounds against the whole stitched object, which even out what the sweep's order left
  const at::Tensor onCanvas = pos - at::tensor({canvas.originCol, canvas.originRow}, pos.options()).view({1, 2});
  for (int64_t pass = 0; pass < passes; ++pass) {
    const at::Tensor object = Stitch(aligned, positions, weights, canvas, floor);
    const at::Tensor seen = ExtractPatches(object, onCanvas, n);
    const at::Tensor overlap = (seen * aligned.conj() * w.view({1, n, n})).sum({1, 2});  // (K)
    const at::Tensor perGroup = at::zeros({count}, overlap.options()).index_add_(0, group, overlap);
    const at::Tensor turn = perGroup / perGroup.abs().clamp_min(1e-30);
    aligned = aligned * turn.index_select(0, group).view({k, 1, 1});
  }
  return Stitch(aligned, positions, weights, canvas, floor);
}

}  // namespace ptpinn::stitching
