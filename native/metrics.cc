#include "metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace ptpinn::metrics {

namespace {

const auto kDouble = at::TensorOptions().dtype(at::kDouble);
const auto kComplex = at::TensorOptions().dtype(at::kComplexDouble);
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// fftfreq's index-to-shift rule: index i is shift i up to n / 2, i - n beyond.
at::Tensor SignedIndex(int64_t n) {
  at::Tensor i = at::arange(n, kDouble);
  return at::where(i > n / 2, i - n, i);
}

// exp(-2 pi i (arange(size) - offset) outer fftfreq(n, upsample)): one axis of the upsampled DFT
at::Tensor UpsampleKernel(int64_t size, double offset, int64_t n, int64_t upsample) {
  const at::Tensor rows = (at::arange(size, kDouble) - offset).unsqueeze(1);
  const at::Tensor freq = at::fft_fftfreq(n, static_cast<double>(upsample), kDouble).unsqueeze(0);
  return at::polar(at::ones({size, n}, kDouble), -2 * M_PI * rows * freq);
}

// (row, col) of the largest element of a real (H, W) tensor
std::pair<int64_t, int64_t> ArgMax2d(const at::Tensor& t) {
  const int64_t k = t.reshape({-1}).argmax().item<int64_t>();
  return {k / t.size(1), k % t.size(1)};
}

at::Tensor SeparableGaussian(const at::Tensor& image, double sigma, int64_t radius) {
  at::Tensor g = at::arange(-radius, radius + 1, kDouble);
  g = at::exp(-0.5 * g.square() / (sigma * sigma));
  g = g / g.sum();
  const at::Tensor x = image.unsqueeze(0).unsqueeze(0);
  const at::Tensor rows = at::conv2d(x, g.view({1, 1, -1, 1}));
  return at::conv2d(rows, g.view({1, 1, 1, -1})).squeeze(0).squeeze(0);
}

// The part of `t` (H, W) at rows [row0, row0 + h), columns [col0, col0 + w), 0 outside it.
at::Tensor Crop(const at::Tensor& t, int64_t row0, int64_t col0, int64_t h, int64_t w) {
  at::Tensor out = at::zeros({h, w}, t.options());
  const int64_t r0 = std::max<int64_t>(row0, 0), r1 = std::min(row0 + h, t.size(0));
  const int64_t c0 = std::max<int64_t>(col0, 0), c1 = std::min(col0 + w, t.size(1));
  if (r1 > r0 && c1 > c0) {
    out.narrow(0, r0 - row0, r1 - r0)
        .narrow(1, c0 - col0, c1 - c0)
        .copy_(t.narrow(0, r0, r1 - r0).narrow(1, c0, c1 - c0));
  }
  return out;
}

// The image (H, W) eased towards its mean over `width` pixels at each edge. Sub-pixel
// interpolation through the DFT treats an image as periodic; an untapered edge rings into the
// pixels a shift brings into the compared box.
at::Tensor Tapered(const at::Tensor& image, int64_t width) {
  if (width <= 0) return image;
  auto ramp = [&](int64_t n) {
    const at::Tensor i = at::arange(n, kDouble);
    const at::Tensor d = at::minimum(i, n - 1 - i);
    return at::where(d >= width, at::ones_like(d), 0.5 - 0.5 * at::cos(M_PI * d / width));
  };
  const at::Tensor taper = ramp(image.size(0)).unsqueeze(1) * ramp(image.size(1)).unsqueeze(0);
  const at::Tensor mean = image.mean();
  return mean + (image - mean) * taper;
}

double Crossing(const std::vector<double>& f, const std::vector<double>& frc, const std::vector<double>& threshold) {
  for (size_t r = 1; r < frc.size(); ++r) {
    const double d = frc[r] - threshold[r];
    if (d >= 0) continue;
    if (r == 1) return f[1];
    const double before = frc[r - 1] - threshold[r - 1];
    return f[r - 1] + (f[r] - f[r - 1]) * before / (before - d);
  }
  return kNaN;
}

Scores Score(const at::Tensor& x, const at::Tensor& y, const at::Tensor& covered, bool wrapped) {
  Scores s{};
  const double count = covered.sum().item<double>();
  at::Tensor diff = x - y;
  if (wrapped) diff = at::atan2(at::sin(diff), at::cos(diff));
  diff = diff * covered;
  s.mae = diff.abs().sum().item<double>() / count;
  const double mse = diff.square().sum().item<double>() / count;
  s.rmse = std::sqrt(mse);
  const at::Tensor inside = y.masked_select(covered > 0.5);
  s.dataRange = (inside.max() - inside.min()).item<double>();
  s.psnr = mse > 0 ? 10 * std::log10(s.dataRange * s.dataRange / mse) : std::numeric_limits<double>::infinity();
  s.ssim = Ssim(x, y, s.dataRange > 0 ? s.dataRange : 1.0);
  const at::Tensor xi = x.masked_select(covered > 0.5), yi = inside;
  const at::Tensor xc = xi - xi.mean(), yc = yi - yi.mean();
  const double norm = std::sqrt((xc.square().sum() * yc.square().sum()).item<double>());
  s.correlation = norm > 0 ? (xc * yc).sum().item<double>() / norm : 0.0;
  s.frc = Frc(x, y);
  return s;
}

}  // namespace

std::pair<double, double> RegisterShift(const at::Tensor& reference, const at::Tensor& moving, double maxShift,
                                        int64_t upsample, const at::Tensor& support) {
  const int64_t h = reference.size(0), w = reference.size(1);
  const at::Tensor movingSpectrum = at::fft_fft2(moving.to(at::kComplexDouble)).conj();
  const at::Tensor product = at::fft_fft2(reference.to(at::kComplexDouble)) * movingSpectrum;
  // With a support, each shift's correlation is divided by the standard deviation of the moving
  // image over the pixels the shift pairs with the support: a normalised cross-correlation, whose
  // maximum is exact however the image's level and energy vary across it. The reference must have
  // zero mean over its support, so the numerator needs no local mean.
  at::Tensor energy, level;
  double pairs = 1;
  if (support.defined()) {
    const at::Tensor s = at::fft_fft2(support.to(at::kComplexDouble));
    const at::Tensor a = moving.to(at::kComplexDouble);
    energy = s * at::fft_fft2(a.abs().square().to(at::kComplexDouble)).conj();
    level = s * movingSpectrum;
    pairs = support.sum().item<double>();
  }
  auto score = [&](const at::Tensor& cc, const at::Tensor& e, const at::Tensor& l) {
    if (!e.defined()) return cc.abs();
    return cc.abs() / (at::real(e) - l.abs().square() / pairs).clamp_min(1e-300).sqrt();
  };
  const at::Tensor rows = SignedIndex(h).unsqueeze(1), cols = SignedIndex(w).unsqueeze(0);
  const at::Tensor allowed = (rows.abs() <= maxShift).logical_and(cols.abs() <= maxShift);
  auto inverse = [](const at::Tensor& t) { return t.defined() ? at::fft_ifft2(t) : t; };
  const at::Tensor coarse = score(at::fft_ifft2(product), inverse(energy), inverse(level));
  const auto [i, j] = ArgMax2d(at::where(allowed, coarse, at::full_like(coarse, -1.0)));
  double dy = rows[i][0].item<double>(), dx = cols[0][j].item<double>();
  if (upsample > 1) {
    // the correlation around the integer peak, sampled every 1/upsample pixel over 1.5 pixels
    const int64_t size = static_cast<int64_t>(std::ceil(upsample * 1.5));
    const double centre = std::floor(size / 2.0);
    const at::Tensor kr = UpsampleKernel(size, centre - dy * upsample, h, upsample);
    const at::Tensor kc = UpsampleKernel(size, centre - dx * upsample, w, upsample);
    auto sample = [&](const at::Tensor& spectrum) {
      // (h * w) normalises like ifft2, which the energy's scale needs
      return at::matmul(at::matmul(kr, spectrum.conj()), kc.transpose(0, 1)).conj() / static_cast<double>(h * w);
    };
    auto sampled = [&](const at::Tensor& t) { return t.defined() ? sample(t) : t; };
    const at::Tensor fine = score(sample(product), sampled(energy), sampled(level));
    const auto [p, q] = ArgMax2d(fine);
    dy += (static_cast<double>(p) - centre) / upsample;
    dx += (static_cast<double>(q) - centre) / upsample;
  }
  return {dy, dx};
}

at::Tensor FourierShift(const at::Tensor& image, double dy, double dx) {
  const int64_t h = image.size(0), w = image.size(1);
  const at::Tensor fy = at::fft_fftfreq(h, 1.0, kDouble).unsqueeze(1);
  const at::Tensor fx = at::fft_fftfreq(w, 1.0, kDouble).unsqueeze(0);
  const at::Tensor phase = -2 * M_PI * (fy * dy + fx * dx);
  const at::Tensor ramp = at::polar(at::ones_like(phase), phase);
  return at::fft_ifft2(at::fft_fft2(image.to(at::kComplexDouble)) * ramp);
}

double Ssim(const at::Tensor& x, const at::Tensor& y, double range) {
  constexpr double kSigma = 1.5;
  constexpr int64_t kRadius = 5;  // int(3.5 sigma + 0.5): scikit-image's 11 x 11 window
  if (x.size(0) < 2 * kRadius + 1 || x.size(1) < 2 * kRadius + 1) {
    throw std::invalid_argument("SSIM needs images of at least 11 x 11 pixels");
  }
  const at::Tensor a = x.to(at::kDouble), b = y.to(at::kDouble);
  auto blur = [](const at::Tensor& t) { return SeparableGaussian(t, kSigma, kRadius); };
  const at::Tensor ux = blur(a), uy = blur(b);
  const at::Tensor vx = blur(a * a) - ux * ux, vy = blur(b * b) - uy * uy, vxy = blur(a * b) - ux * uy;
  const double c1 = std::pow(0.01 * range, 2), c2 = std::pow(0.03 * range, 2);
  const at::Tensor s = (2 * ux * uy + c1) * (2 * vxy + c2) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
  return s.mean().item<double>();
}

FrcCurve Frc(const at::Tensor& x, const at::Tensor& y) {
  const int64_t h = x.size(0), w = x.size(1), l = std::min(h, w);
  const at::Tensor window =
      at::hann_window(h, /*periodic*/ false, kDouble).unsqueeze(1) * at::hann_window(w, false, kDouble).unsqueeze(0);
  auto spectrum = [&](const at::Tensor& t) {
    const at::Tensor d = t.to(at::kDouble);
    return at::fft_fft2((d - d.mean()) * window);
  };
  const at::Tensor fx = spectrum(x), fy = spectrum(y);
  const at::Tensor q = at::sqrt(at::fft_fftfreq(h, 1.0, kDouble).square().unsqueeze(1) +
                                at::fft_fftfreq(w, 1.0, kDouble).square().unsqueeze(0));
  const int64_t rings = l / 2 + 1;
  at::Tensor ring = at::round(q * l).to(at::kLong).reshape({-1});
  const at::Tensor keep = ring < rings;
  ring = ring.masked_select(keep);
  auto sum = [&](const at::Tensor& v) { return at::bincount(ring, v.reshape({-1}).masked_select(keep), rings); };
  const at::Tensor cross = sum(at::real(fx * fy.conj()));
  const at::Tensor px = sum(fx.abs().square()), py = sum(fy.abs().square());
  const at::Tensor count = at::bincount(ring, {}, rings);
  FrcCurve out;
  for (int64_t r = 0; r < rings; ++r) {
    const double n = count[r].item<double>();
    const double norm = std::sqrt(px[r].item<double>() * py[r].item<double>());
    out.frequency.push_back(static_cast<double>(r) / l);
    out.frc.push_back(norm > 0 ? cross[r].item<double>() / norm : 0.0);
    out.pixels.push_back(static_cast<int64_t>(n));
    const double root = std::sqrt(std::max(n, 1.0));
    out.halfBit.push_back((0.2071 + 1.9102 / root) / (1.2071 + 0.9102 / root));
  }
  out.halfBitCrossing = Crossing(out.frequency, out.frc, out.halfBit);
  out.seventhCrossing = Crossing(out.frequency, out.frc, std::vector<double>(out.frc.size(), 1.0 / 7));
  return out;
}

Comparison Compare(const at::Tensor& a, const at::Tensor& b, const CompareOptions& o) {
  const int64_t h = o.height, w = o.width;
  if (h < 16 || w < 16) {
    throw std::invalid_argument("the compared region is " + std::to_string(h) + " x " + std::to_string(w) +
                                " pixels; metrics need at least 16 x 16");
  }
  const at::Tensor A = a.to(at::kComplexDouble), B = Crop(b.to(at::kComplexDouble), o.top, o.left, h, w);
  // a margin around the box, so that a shifted image has content (not wrap-around) at its edges
  constexpr int64_t kTaper = 8;
  const int64_t m = o.registration ? static_cast<int64_t>(std::ceil(o.maxShift)) + 1 + kTaper : 0;
  const at::Tensor big = Crop(A, o.top - o.offsetRow - m, o.left - o.offsetCol - m, h + 2 * m, w + 2 * m);
  const at::Tensor coveredBig = (big.abs() > 0).to(at::kDouble);
  auto inner = [&](const at::Tensor& t, int64_t dy, int64_t dx) { return t.narrow(0, m - dy, h).narrow(1, m - dx, w); };

  // Registration and the phase ramp are found together: a ramp left in biases the peak of the
  // complex cross-correlation, and a wrong shift biases the ramp. Each round removes the ramp found
  // so far before registering again.
  const at::Tensor yy = (at::arange(h, kDouble) - (h - 1) / 2.0).unsqueeze(1).expand({h, w});
  const at::Tensor xx = (at::arange(w, kDouble) - (w - 1) / 2.0).unsqueeze(0).expand({h, w});
  const at::Tensor yyBig = (at::arange(h + 2 * m, kDouble) - m - (h - 1) / 2.0).unsqueeze(1);
  const at::Tensor xxBig = (at::arange(w + 2 * m, kDouble) - m - (w - 1) / 2.0).unsqueeze(0);
  const at::Tensor basis = at::stack({at::ones_like(yy), yy, xx}, 0).reshape({3, -1});
  // b's box inside a zero margin, against a with its margin: every shift tried compares the same
  // pixels of b with real content of a, so the box's edges do not pull the peak towards 0
  at::Tensor framedB = at::zeros({h + 2 * m, w + 2 * m}, kComplex);
  framedB.narrow(0, m, h).narrow(1, m, w).copy_(B - B.mean());
  at::Tensor support = at::zeros({h + 2 * m, w + 2 * m}, kDouble);
  support.narrow(0, m, h).narrow(1, m, w).fill_(1);
  Comparison out;
  double c = 0, gy = 0, gx = 0;
  at::Tensor aligned, covered;
  for (int round = 0; round < (o.registration ? 4 : 1); ++round) {
    const at::Tensor flat =
        Tapered(big * at::polar(at::ones_like(yyBig * xxBig), -(gy * yyBig + gx * xxBig)), m > 0 ? kTaper : 0);
    if (o.registration) {
      const auto [dy, dx] = RegisterShift(framedB, flat, o.maxShift, o.upsample, support);
      const bool settled =
          round > 0 && std::abs(dy - out.shiftRow) < 0.5 / o.upsample && std::abs(dx - out.shiftCol) < 0.5 / o.upsample;
      out.shiftRow = dy;
      out.shiftCol = dx;
      if (settled && aligned.defined()) break;
    }
    aligned = out.shiftRow == 0 && out.shiftCol == 0 ? inner(flat, 0, 0)
                                                     : inner(FourierShift(flat, out.shiftRow, out.shiftCol), 0, 0);
    covered = inner(coveredBig, std::lround(out.shiftRow), std::lround(out.shiftCol)).contiguous();
    out.pixels = static_cast<int64_t>(covered.sum().item<double>());
    if (out.pixels < h * w / 2) {
      throw std::invalid_argument("the reconstruction covers only " + std::to_string(out.pixels) + " of the " +
                                  std::to_string(h * w) + " pixels compared");
    }
    // offset and ramp: weighted least squares on the wrapped phase of a conj(b), refined a few
    // times so that a ramp of several radians across the box is followed without unwrapping
    const at::Tensor product = aligned * B.conj() * covered;
    c = at::angle(product.sum()).item<double>();
    if (!o.removeRamp) break;
    const at::Tensor weight = product.abs();
    const at::Tensor normal = at::matmul(basis * weight.reshape({1, -1}), basis.transpose(0, 1));
    double dc = 0, dgy = 0, dgx = 0;
    for (int it = 0; it < 6; ++it) {
      const at::Tensor model = c + dc + dgy * yy + dgx * xx;
      const at::Tensor residual = at::angle(product * at::polar(at::ones_like(model), -model));
      const at::Tensor rhs = at::matmul(basis, (residual * weight).reshape({-1, 1}));
      const at::Tensor step = at::linalg_solve(normal, rhs).reshape({-1});
      dc += step[0].item<double>();
      dgy += step[1].item<double>();
      dgx += step[2].item<double>();
    }
    // the ramp goes into the next round's de-ramped image; the offset is refitted there
    aligned = aligned * at::polar(at::ones_like(yy), -(dgy * yy + dgx * xx));
    c += dc;
    gy += dgy;
    gx += dgx;
  }
  out.phaseOffset = std::remainder(c, 2 * M_PI);
  out.rampRow = gy;
  out.rampCol = gx;
  const at::Tensor corrected = aligned * c10::complex<double>(std::cos(c), -std::sin(c));

  const at::Tensor ampA = corrected.abs() * covered, ampB = B.abs();
  const double aa = (ampA * ampA).sum().item<double>();
  out.amplitudeScale = aa > 0 ? (ampA * ampB * covered).sum().item<double>() / aa : 1.0;
  const at::Tensor inner_product = (corrected * B.conj() * covered).sum();
  const double bb = (ampB.square() * covered).sum().item<double>();
  out.complexCorrelation = aa > 0 && bb > 0 ? inner_product.abs().item<double>() / std::sqrt(aa * bb) : 0.0;

  // both phases centred on b's (amplitude-weighted) mean phase, so neither sits near the wrap
  const double mean = at::angle((B * covered).sum()).item<double>();
  const at::Tensor turn = at::polar(at::ones({}, kDouble), at::full({}, -mean, kDouble));
  out.amplitudeA = out.amplitudeScale * ampA;
  out.amplitudeB = ampB;
  out.phaseA = at::angle(corrected * turn) * covered;
  out.phaseB = at::angle(B * turn);
  out.covered = covered;
  out.amplitude = Score(out.amplitudeA, out.amplitudeB, covered, false);
  out.phase = Score(out.phaseA, out.phaseB, covered, true);
  return out;
}

}  // namespace ptpinn::metrics
