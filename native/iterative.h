// The iterative baseline: ePIE (Maiden and Rodenburg 2009) and rPIE (Maiden, Johnson and Li
// 2017) with probe refinement, a probe power constraint and optional position correction, on
// the same data contract and canvas conventions as the PINN (SPEC sections 2, 6 and 7).
#pragma once

#include <ATen/ATen.h>

#include <atomic>
#include <functional>
#include <vector>

#include "stitching.h"

namespace ptpinn::iterative {

enum class Method { kEpie, kRpie };

struct Options {
  Method method = Method::kEpie;
  int64_t iterations = 100;
  int64_t probeStart = 5;      // first iteration (0-based) that updates the probe; >= iterations: never
  double alpha = 1.0;          // object step (rPIE: its regularisation weight)
  double beta = 1.0;           // probe step
  int64_t positionStart = -1;  // first iteration that corrects positions; < 0: never
  uint64_t seed = 42;          // the order patterns are visited in, per iteration
};

struct Progress {
  int64_t iteration, iterations;
  double error;  // sum (|Psi| - X)^2 / sum X^2 over the iteration's patterns
};

struct Result {
  at::Tensor object;     // complex (H, W) on the canvas
  at::Tensor probe;      // complex (N, N)
  at::Tensor positions;  // double (K, 2) = (x, y), corrected when position correction ran
  std::vector<double> error;
  bool cancelled = false;
};

// amplitudes (K, N, N) float, fft-shifted as in the files; positions (K, 2) double = (x, y) in
// object pixels; probe complex (N, N); initial: complex canvas-sized object, or undefined for 1.
// Every position, moved by up to `canvas` slack, must keep its patch inside the canvas.
Result Reconstruct(const at::Tensor& amplitudes, const at::Tensor& positions, const at::Tensor& probe,
                   const stitching::Canvas& canvas, const at::Tensor& initial, const Options& options,
                   const std::function<void(const Progress&)>& onProgress, const std::atomic<bool>& cancel);

}  // namespace ptpinn::iterative
