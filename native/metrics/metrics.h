// Quality metrics of SPEC section 10: a reconstruction compared with a reference object after
// sub-pixel registration, removal of the phase ambiguities and amplitude scale matching.
// Everything is computed in double precision: the figures are what users quote. Plain C++ with no
// LibTorch, so that `compare` and ONNX inference score reconstructions on machines without it.
#pragma once

#include <utility>
#include <vector>

#include "grid.h"

namespace ptpinn::metrics {

// The shift (rows, columns) to apply to `moving` so that it matches `reference` (the
// convention of scikit-image's phase_cross_correlation): the peak of their cross-correlation,
// searched within `maxShift` pixels, refined by an upsampled DFT to 1/`upsample` pixel
// (Guizar-Sicairos, Thurman and Fienup 2008). Both (H, W), same shape. With a `support` (where
// the reference holds data, 1 or 0), each shift's correlation is normalised by the moving image's
// energy over the pixels it pairs with the support.
std::pair<double, double> RegisterShift(const Field& reference, const Field& moving, double maxShift, int64_t upsample,
                                        const Real* support = nullptr);

// The image (H, W) with its content moved by (dy, dx) pixels through the Fourier shift theorem
// (periodic; callers pad).
Field FourierShift(Field image, double dy, double dx);

// Mean SSIM of two real images (H, W) >= 11 x 11 with an 11 x 11 Gaussian window of sigma 1.5,
// K1 = 0.01, K2 = 0.03, population covariances, over the pixels whose window lies inside the
// image: scikit-image's structural_similarity(gaussian_weights=True, sigma=1.5,
// use_sample_covariance=False, data_range=range).
double Ssim(const Real& x, const Real& y, double range);

struct FrcCurve {
  std::vector<double> frequency;  // ring centres, cycles per pixel
  std::vector<double> frc;
  std::vector<double> halfBit;  // van Heel and Schatz 2005
  std::vector<int64_t> pixels;  // Fourier pixels in each ring
  double halfBitCrossing;       // cycles per pixel; NaN when the curve never falls below it
  double seventhCrossing;       // the same for the 1/7 threshold
};

// Fourier ring correlation of two real images (H, W): each mean-subtracted and Hann-windowed,
// rings one 1/min(H, W) wide of the radius sqrt((ky/H)^2 + (kx/W)^2), from DC to 0.5. The
// crossings are the first fall below the threshold after ring 0, linearly interpolated.
FrcCurve Frc(const Real& x, const Real& y);

struct Scores {
  double mae, rmse, psnr, ssim, correlation;
  double dataRange;  // of the reference over the compared pixels: PSNR's and SSIM's range
  FrcCurve frc;
};

struct CompareOptions {
  // Where a's pixel [0, 0] lies in b's pixel grid (rows, columns).
  int64_t offsetRow = 0, offsetCol = 0;
  // The compared box in b's pixel grid: rows [top, top + height), columns [left, left + width).
  int64_t top = 0, left = 0, height = 0, width = 0;
  bool registration = true;
  double maxShift = 8;
  int64_t upsample = 100;
  bool removeRamp = true;
};

struct Comparison {
  double shiftRow = 0, shiftCol = 0;  // applied to a (content moved by this) to match b
  double phaseOffset = 0;             // radians removed from a
  double rampRow = 0, rampCol = 0;    // radians per pixel removed from a
  double amplitudeScale = 1;          // a's amplitude multiplied by this
  int64_t pixels = 0;                 // pixels compared (covered by a, inside the box)
  double complexCorrelation = 0;      // |<a, b>| / (|a| |b|) after alignment
  Scores amplitude, phase;
  // the aligned images of a and b over the box (H, W), phases centred on b's mean phase
  Real amplitudeA, amplitudeB, phaseA, phaseB, covered;
};

// a: the reconstruction, b: the reference, both complex (H, W). Pixels of a that are exactly 0
// count as not covered. Throws std::invalid_argument when the box is smaller than 16 x 16 or
// a covers too little of it.
Comparison Compare(const Field& a, const Field& b, const CompareOptions& options);

}  // namespace ptpinn::metrics
