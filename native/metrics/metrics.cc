#include "metrics.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "fft.h"

namespace ptpinn::metrics {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// fftfreq's index-to-shift rule, but index n / 2 of an even n is +n / 2: shift i up to n / 2, i - n beyond.
double SignedIndex(int64_t i, int64_t n) { return static_cast<double>(i > n / 2 ? i - n : i); }

// exp(-2 pi i (arange(size) - offset) outer fftfreq(n, upsample)), (size, n): one axis of the upsampled DFT
Field UpsampleKernel(int64_t size, double offset, int64_t n, int64_t upsample) {
  const std::vector<double> freq = FftFreq(n, static_cast<double>(upsample));
  Field k(size, n);
  for (int64_t i = 0; i < size; ++i) {
    for (int64_t j = 0; j < n; ++j) k(i, j) = std::polar(1.0, -2 * M_PI * (static_cast<double>(i) - offset) * freq[j]);
  }
  return k;
}

// (row, col) of the first largest element
std::pair<int64_t, int64_t> ArgMax2d(const Real& t) {
  const auto at = std::max_element(t.v.begin(), t.v.end()) - t.v.begin();
  return {at / t.w, at % t.w};
}

Field Transformed(Field f, bool inverse) {
  Fft2(f, inverse);
  return f;
}

// The "valid" part of a separable Gaussian filter: (H - 2 radius, W - 2 radius).
Real SeparableGaussian(const Real& image, double sigma, int64_t radius) {
  std::vector<double> g(static_cast<size_t>(2 * radius + 1));
  double total = 0;
  for (int64_t t = -radius; t <= radius; ++t) total += g[t + radius] = std::exp(-0.5 * t * t / (sigma * sigma));
  for (double& v : g) v /= total;
  const int64_t h = image.h - 2 * radius, w = image.w - 2 * radius;
  Real rows(h, image.w);
  for (int64_t r = 0; r < h; ++r) {
    for (int64_t t = 0; t <= 2 * radius; ++t) {
      for (int64_t c = 0; c < image.w; ++c) rows(r, c) += g[t] * image(r + t, c);
    }
  }
  Real out(h, w);
  for (int64_t r = 0; r < h; ++r) {
    for (int64_t c = 0; c < w; ++c) {
      double s = 0;
      for (int64_t t = 0; t <= 2 * radius; ++t) s += g[t] * rows(r, c + t);
      out(r, c) = s;
    }
  }
  return out;
}

// The part of `t` at rows [row0, row0 + h), columns [col0, col0 + w), 0 outside it.
template <typename T>
Grid<T> Crop(const Grid<T>& t, int64_t row0, int64_t col0, int64_t h, int64_t w) {
  Grid<T> out(h, w);
  const int64_t r0 = std::max<int64_t>(row0, 0), r1 = std::min(row0 + h, t.h);
  const int64_t c0 = std::max<int64_t>(col0, 0), c1 = std::min(col0 + w, t.w);
  for (int64_t r = r0; r < r1; ++r) {
    for (int64_t c = c0; c < c1; ++c) out(r - row0, c - col0) = t(r, c);
  }
  return out;
}

// The image eased towards its mean over `width` pixels at each edge. Sub-pixel interpolation
// through the DFT treats an image as periodic; an untapered edge rings into the pixels a shift
// brings into the compared box.
Field Tapered(Field image, int64_t width) {
  if (width <= 0) return image;
  auto ramp = [&](int64_t n) {
    std::vector<double> r(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      const int64_t d = std::min(i, n - 1 - i);
      r[i] = d >= width ? 1.0 : 0.5 - 0.5 * std::cos(M_PI * static_cast<double>(d) / width);
    }
    return r;
  };
  const std::vector<double> rows = ramp(image.h), cols = ramp(image.w);
  const Complex mean = Mean(image);
  for (int64_t r = 0; r < image.h; ++r) {
    for (int64_t c = 0; c < image.w; ++c) {
      // untouched away from the edges: mean + (z - mean) is not always z in floating point, and an
      // image compared with itself must score exactly (an infinite PSNR)
      const double t = rows[r] * cols[c];
      if (t != 1.0) image(r, c) = mean + (image(r, c) - mean) * t;
    }
  }
  return image;
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

Scores Score(const Real& x, const Real& y, const Real& covered, bool wrapped) {
  Scores s{};
  double count = 0, absolute = 0, squares = 0;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  std::vector<double> xi, yi;
  for (size_t i = 0; i < x.v.size(); ++i) {
    double d = x.v[i] - y.v[i];
    if (wrapped) d = std::atan2(std::sin(d), std::cos(d));
    d *= covered.v[i];
    count += covered.v[i];
    absolute += std::abs(d);
    squares += d * d;
    if (covered.v[i] > 0.5) {
      lo = std::min(lo, y.v[i]);
      hi = std::max(hi, y.v[i]);
      xi.push_back(x.v[i]);
      yi.push_back(y.v[i]);
    }
  }
  s.mae = absolute / count;
  const double mse = squares / count;
  s.rmse = std::sqrt(mse);
  s.dataRange = hi - lo;
  s.psnr = mse > 0 ? 10 * std::log10(s.dataRange * s.dataRange / mse) : std::numeric_limits<double>::infinity();
  s.ssim = Ssim(x, y, s.dataRange > 0 ? s.dataRange : 1.0);
  double mx = 0, my = 0;
  for (size_t i = 0; i < xi.size(); ++i) {
    mx += xi[i];
    my += yi[i];
  }
  mx /= static_cast<double>(xi.size());
  my /= static_cast<double>(yi.size());
  double xy = 0, xx = 0, yy = 0;
  for (size_t i = 0; i < xi.size(); ++i) {
    xy += (xi[i] - mx) * (yi[i] - my);
    xx += (xi[i] - mx) * (xi[i] - mx);
    yy += (yi[i] - my) * (yi[i] - my);
  }
  const double norm = std::sqrt(xx * yy);
  s.correlation = norm > 0 ? xy / norm : 0.0;
  s.frc = Frc(x, y);
  return s;
}

// The 3 x 3 system normal * step = rhs by Gaussian elimination with partial pivoting.
std::array<double, 3> Solve3(std::array<std::array<double, 4>, 3> m) {
  for (int col = 0; col < 3; ++col) {
    int pivot = col;
    for (int r = col + 1; r < 3; ++r) {
      if (std::abs(m[r][col]) > std::abs(m[pivot][col])) pivot = r;
    }
    std::swap(m[col], m[pivot]);
    if (m[col][col] == 0) throw std::invalid_argument("the phase ramp's least squares are singular");
    for (int r = col + 1; r < 3; ++r) {
      const double f = m[r][col] / m[col][col];
      for (int k = col; k < 4; ++k) m[r][k] -= f * m[col][k];
    }
  }
  std::array<double, 3> x{};
  for (int r = 2; r >= 0; --r) {
    double s = m[r][3];
    for (int k = r + 1; k < 3; ++k) s -= m[r][k] * x[k];
    x[r] = s / m[r][r];
  }
  return x;
}

}  // namespace

std::pair<double, double> RegisterShift(const Field& reference, const Field& moving, double maxShift, int64_t upsample,
                                        const Real* support) {
  const int64_t h = reference.h, w = reference.w;
  const size_t size = reference.v.size();
  Field movingSpectrum = Transformed(moving, false);
  for (auto& z : movingSpectrum.v) z = std::conj(z);
  Field product = Transformed(reference, false);
  for (size_t i = 0; i < size; ++i) product.v[i] = Mul(product.v[i], movingSpectrum.v[i]);
  // With a support, each shift's correlation is divided by the standard deviation of the moving
  // image over the pixels the shift pairs with the support: a normalised cross-correlation, whose
  // maximum is exact however the image's level and energy vary across it. The reference must have
  // zero mean over its support, so the numerator needs no local mean.
  Field energy, level;
  double pairs = 1;
  if (support != nullptr) {
    const Field s = Transformed(ToField(*support), false);
    Field squares(h, w);
    for (size_t i = 0; i < size; ++i) squares.v[i] = std::norm(moving.v[i]);
    Fft2(squares, false);
    energy = s;
    level = s;
    pairs = 0;
    for (size_t i = 0; i < size; ++i) {
      energy.v[i] = Mul(energy.v[i], std::conj(squares.v[i]));
      level.v[i] = Mul(level.v[i], movingSpectrum.v[i]);
      pairs += support->v[i];
    }
  }
  auto score = [&](const Field& cc, const Field& e, const Field& l) {
    Real out(cc.h, cc.w);
    for (size_t i = 0; i < cc.v.size(); ++i) {
      out.v[i] = std::abs(cc.v[i]);
      if (!e.empty()) out.v[i] /= std::sqrt(std::max(e.v[i].real() - std::norm(l.v[i]) / pairs, 1e-300));
    }
    return out;
  };
  auto inverse = [](const Field& t) { return t.empty() ? t : Transformed(t, true); };
  Real coarse = score(Transformed(product, true), inverse(energy), inverse(level));
  for (int64_t r = 0; r < h; ++r) {
    for (int64_t c = 0; c < w; ++c) {
      if (std::abs(SignedIndex(r, h)) > maxShift || std::abs(SignedIndex(c, w)) > maxShift) coarse(r, c) = -1;
    }
  }
  const auto [i, j] = ArgMax2d(coarse);
  double dy = SignedIndex(i, h), dx = SignedIndex(j, w);
  if (upsample > 1) {
    // the correlation around the integer peak, sampled every 1/upsample pixel over 1.5 pixels
    const int64_t n = static_cast<int64_t>(std::ceil(upsample * 1.5));
    const double centre = std::floor(n / 2.0);
    const Field kr = UpsampleKernel(n, centre - dy * upsample, h, upsample);
    const Field kc = UpsampleKernel(n, centre - dx * upsample, w, upsample);
    // conj(kr conj(spectrum) kc^T) / (h w): the 1 / (h w) normalises like ifft2, which the energy's scale needs
    auto sample = [&](const Field& spectrum) {
      if (spectrum.empty()) return spectrum;
      Field rows(n, w);
      for (int64_t p = 0; p < n; ++p) {
        Complex* out = &rows(p, 0);
        for (int64_t k = 0; k < h; ++k) {
          const Complex a = kr(p, k);
          const Complex* in = &spectrum(k, 0);
          for (int64_t c = 0; c < w; ++c) out[c] += Mul(a, std::conj(in[c]));
        }
      }
      Field out(n, n);
      const double scale = 1.0 / static_cast<double>(h * w);
      for (int64_t p = 0; p < n; ++p) {
        for (int64_t q = 0; q < n; ++q) {
          Complex s{};
          for (int64_t c = 0; c < w; ++c) s += Mul(rows(p, c), kc(q, c));
          out(p, q) = std::conj(s) * scale;
        }
      }
      return out;
    };
    const auto [p, q] = ArgMax2d(score(sample(product), sample(energy), sample(level)));
    dy += (static_cast<double>(p) - centre) / upsample;
    dx += (static_cast<double>(q) - centre) / upsample;
  }
  return {dy, dx};
}

Field FourierShift(Field image, double dy, double dx) {
  const std::vector<double> fy = FftFreq(image.h, 1.0), fx = FftFreq(image.w, 1.0);
  Fft2(image, false);
  for (int64_t r = 0; r < image.h; ++r) {
    for (int64_t c = 0; c < image.w; ++c)
      image(r, c) = Mul(image(r, c), std::polar(1.0, -2 * M_PI * (fy[r] * dy + fx[c] * dx)));
  }
  Fft2(image, true);
  return image;
}

double Ssim(const Real& x, const Real& y, double range) {
  constexpr double kSigma = 1.5;
  constexpr int64_t kRadius = 5;  // int(3.5 sigma + 0.5): scikit-image's 11 x 11 window
  if (x.h < 2 * kRadius + 1 || x.w < 2 * kRadius + 1) {
    throw std::invalid_argument("SSIM needs images of at least 11 x 11 pixels");
  }
  auto blur = [](const Real& t) { return SeparableGaussian(t, kSigma, kRadius); };
  auto product = [](const Real& a, const Real& b) {
    Real p(a.h, a.w);
    for (size_t i = 0; i < a.v.size(); ++i) p.v[i] = a.v[i] * b.v[i];
    return p;
  };
  const Real ux = blur(x), uy = blur(y), xx = blur(product(x, x)), yy = blur(product(y, y)), xy = blur(product(x, y));
  const double c1 = std::pow(0.01 * range, 2), c2 = std::pow(0.03 * range, 2);
  double total = 0;
  for (size_t i = 0; i < ux.v.size(); ++i) {
    const double mx = ux.v[i], my = uy.v[i];
    const double vx = xx.v[i] - mx * mx, vy = yy.v[i] - my * my, vxy = xy.v[i] - mx * my;
    total += (2 * mx * my + c1) * (2 * vxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2));
  }
  return total / static_cast<double>(ux.v.size());
}

FrcCurve Frc(const Real& x, const Real& y) {
  const int64_t h = x.h, w = x.w, l = std::min(h, w);
  // torch.hann_window(n, periodic=False)
  auto hann = [](int64_t n) {
    std::vector<double> v(static_cast<size_t>(n), 1.0);
    for (int64_t i = 0; n > 1 && i < n; ++i) v[i] = 0.5 - 0.5 * std::cos(2 * M_PI * static_cast<double>(i) / (n - 1));
    return v;
  };
  const std::vector<double> wr = hann(h), wc = hann(w);
  auto spectrum = [&](const Real& t) {
    const double mean = Mean(t);
    Field f(h, w);
    for (int64_t r = 0; r < h; ++r) {
      for (int64_t c = 0; c < w; ++c) f(r, c) = (t(r, c) - mean) * (wr[r] * wc[c]);
    }
    Fft2(f, false);
    return f;
  };
  const Field fx = spectrum(x), fy = spectrum(y);
  const std::vector<double> qy = FftFreq(h, 1.0), qx = FftFreq(w, 1.0);
  const int64_t rings = l / 2 + 1;
  std::vector<double> cross(rings), px(rings), py(rings), count(rings);
  for (int64_t r = 0; r < h; ++r) {
    for (int64_t c = 0; c < w; ++c) {
      // rounds half to even, as torch.round
      const auto ring = static_cast<int64_t>(std::nearbyint(std::sqrt(qy[r] * qy[r] + qx[c] * qx[c]) * l));
      if (ring >= rings) continue;
      const Complex a = fx(r, c), b = fy(r, c);
      cross[ring] += a.real() * b.real() + a.imag() * b.imag();
      px[ring] += std::norm(a);
      py[ring] += std::norm(b);
      count[ring] += 1;
    }
  }
  FrcCurve out;
  for (int64_t r = 0; r < rings; ++r) {
    const double norm = std::sqrt(px[r] * py[r]);
    out.frequency.push_back(static_cast<double>(r) / l);
    out.frc.push_back(norm > 0 ? cross[r] / norm : 0.0);
    out.pixels.push_back(static_cast<int64_t>(count[r]));
    const double root = std::sqrt(std::max(count[r], 1.0));
    out.halfBit.push_back((0.2071 + 1.9102 / root) / (1.2071 + 0.9102 / root));
  }
  out.halfBitCrossing = Crossing(out.frequency, out.frc, out.halfBit);
  out.seventhCrossing = Crossing(out.frequency, out.frc, std::vector<double>(out.frc.size(), 1.0 / 7));
  return out;
}

Comparison Compare(const Field& a, const Field& b, const CompareOptions& o) {
  const int64_t h = o.height, w = o.width;
  if (h < 16 || w < 16) {
    throw std::invalid_argument("the compared region is " + std::to_string(h) + " x " + std::to_string(w) +
                                " pixels; metrics need at least 16 x 16");
  }
  const Field B = Crop(b, o.top, o.left, h, w);
  // a margin around the box, so that a shifted image has content (not wrap-around) at its edges
  constexpr int64_t kTaper = 8;
  const int64_t m = o.registration ? static_cast<int64_t>(std::ceil(o.maxShift)) + 1 + kTaper : 0;
  const int64_t bh = h + 2 * m, bw = w + 2 * m;
  const Field big = Crop(a, o.top - o.offsetRow - m, o.left - o.offsetCol - m, bh, bw);
  Real coveredBig(bh, bw);
  for (size_t i = 0; i < big.v.size(); ++i) coveredBig.v[i] = std::abs(big.v[i]) > 0 ? 1.0 : 0.0;
  // the (h, w) box of t starting at row m - dy, column m - dx
  auto inner = [&](const auto& t, int64_t dy, int64_t dx) { return Crop(t, m - dy, m - dx, h, w); };

  // Registration and the phase ramp are found together: a ramp left in biases the peak of the
  // complex cross-correlation, and a wrong shift biases the ramp. Each round removes the ramp found
  // so far before registering again.
  std::vector<double> yy(h), xx(w), yyBig(bh), xxBig(bw);
  for (int64_t r = 0; r < h; ++r) yy[r] = static_cast<double>(r) - (h - 1) / 2.0;
  for (int64_t c = 0; c < w; ++c) xx[c] = static_cast<double>(c) - (w - 1) / 2.0;
  for (int64_t r = 0; r < bh; ++r) yyBig[r] = static_cast<double>(r - m) - (h - 1) / 2.0;
  for (int64_t c = 0; c < bw; ++c) xxBig[c] = static_cast<double>(c - m) - (w - 1) / 2.0;
  // b's box inside a zero margin, against a with its margin: every shift tried compares the same
  // pixels of b with real content of a, so the box's edges do not pull the peak towards 0
  const Complex meanB = Mean(B);
  Field framedB(bh, bw);
  Real support(bh, bw);
  for (int64_t r = 0; r < h; ++r) {
    for (int64_t c = 0; c < w; ++c) {
      framedB(r + m, c + m) = B(r, c) - meanB;
      support(r + m, c + m) = 1;
    }
  }
  Comparison out;
  double c = 0, gy = 0, gx = 0;
  Field aligned, product;
  Real covered;
  for (int round = 0; round < (o.registration ? 4 : 1); ++round) {
    Field deramped(bh, bw);
    for (int64_t r = 0; r < bh; ++r) {
      for (int64_t k = 0; k < bw; ++k)
        deramped(r, k) = Mul(big(r, k), std::polar(1.0, -(gy * yyBig[r] + gx * xxBig[k])));
    }
    const Field flat = Tapered(std::move(deramped), m > 0 ? kTaper : 0);
    if (o.registration) {
      const auto [dy, dx] = RegisterShift(framedB, flat, o.maxShift, o.upsample, &support);
      const bool settled =
          round > 0 && std::abs(dy - out.shiftRow) < 0.5 / o.upsample && std::abs(dx - out.shiftCol) < 0.5 / o.upsample;
      out.shiftRow = dy;
      out.shiftCol = dx;
      if (settled && !aligned.empty()) break;
    }
    aligned = out.shiftRow == 0 && out.shiftCol == 0 ? inner(flat, 0, 0)
                                                     : inner(FourierShift(flat, out.shiftRow, out.shiftCol), 0, 0);
    covered = inner(coveredBig, std::lround(out.shiftRow), std::lround(out.shiftCol));
    double pixels = 0;
    for (double v : covered.v) pixels += v;
    out.pixels = static_cast<int64_t>(pixels);
    if (out.pixels < h * w / 2) {
      throw std::invalid_argument("the reconstruction covers only " + std::to_string(out.pixels) + " of the " +
                                  std::to_string(h * w) + " pixels compared");
    }
    // offset and ramp: weighted least squares on the wrapped phase of a conj(b), refined a few
    // times so that a ramp of several radians across the box is followed without unwrapping
    product = Field(h, w);
    Complex total{};
    for (size_t i = 0; i < product.v.size(); ++i) {
      product.v[i] = Mul(aligned.v[i], std::conj(B.v[i])) * covered.v[i];
      total += product.v[i];
    }
    c = std::arg(total);
    if (!o.removeRamp) break;
    // normal = basis diag(weight) basis^T over the basis (1, y, x)
    std::array<std::array<double, 3>, 3> normal{};
    for (int64_t r = 0; r < h; ++r) {
      for (int64_t k = 0; k < w; ++k) {
        const double weight = std::abs(product(r, k)), basis[3] = {1, yy[r], xx[k]};
        for (int i = 0; i < 3; ++i) {
          for (int j = 0; j < 3; ++j) normal[i][j] += basis[i] * weight * basis[j];
        }
      }
    }
    double dc = 0, dgy = 0, dgx = 0;
    for (int it = 0; it < 6; ++it) {
      std::array<std::array<double, 4>, 3> system{};
      for (int i = 0; i < 3; ++i) std::copy(normal[i].begin(), normal[i].end(), system[i].begin());
      for (int64_t r = 0; r < h; ++r) {
        for (int64_t k = 0; k < w; ++k) {
          const double model = c + dc + dgy * yy[r] + dgx * xx[k];
          const Complex z = product(r, k);
          const double residual = std::arg(Mul(z, std::polar(1.0, -model))), weight = std::abs(z);
          system[0][3] += residual * weight;
          system[1][3] += yy[r] * residual * weight;
          system[2][3] += xx[k] * residual * weight;
        }
      }
      const auto step = Solve3(system);
      dc += step[0];
      dgy += step[1];
      dgx += step[2];
    }
    // the ramp goes into the next round's de-ramped image; the offset is refitted there
    for (int64_t r = 0; r < h; ++r) {
      for (int64_t k = 0; k < w; ++k) aligned(r, k) = Mul(aligned(r, k), std::polar(1.0, -(dgy * yy[r] + dgx * xx[k])));
    }
    c += dc;
    gy += dgy;
    gx += dgx;
  }
  out.phaseOffset = std::remainder(c, 2 * M_PI);
  out.rampRow = gy;
  out.rampCol = gx;
  const Complex unturn(std::cos(c), -std::sin(c));

  // both phases centred on b's (amplitude-weighted) mean phase, so neither sits near the wrap
  Complex sumB{};
  for (size_t i = 0; i < B.v.size(); ++i) sumB += B.v[i] * covered.v[i];
  const Complex turn = std::polar(1.0, -std::arg(sumB));
  out.amplitudeA = out.amplitudeB = out.phaseA = out.phaseB = Real(h, w);
  double aa = 0, ab = 0, bb = 0;
  Complex innerProduct{};
  std::vector<Complex> corrected(B.v.size());
  for (size_t i = 0; i < B.v.size(); ++i) {
    corrected[i] = Mul(aligned.v[i], unturn);
    const double ampA = std::abs(corrected[i]) * covered.v[i], ampB = std::abs(B.v[i]);
    out.amplitudeA.v[i] = ampA;
    out.amplitudeB.v[i] = ampB;
    aa += ampA * ampA;
    ab += ampA * ampB * covered.v[i];
    bb += ampB * ampB * covered.v[i];
    innerProduct += Mul(corrected[i], std::conj(B.v[i])) * covered.v[i];
    out.phaseA.v[i] = std::arg(Mul(corrected[i], turn)) * covered.v[i];
    out.phaseB.v[i] = std::arg(Mul(B.v[i], turn));
  }
  out.amplitudeScale = aa > 0 ? ab / aa : 1.0;
  for (double& v : out.amplitudeA.v) v *= out.amplitudeScale;
  out.complexCorrelation = aa > 0 && bb > 0 ? std::abs(innerProduct) / std::sqrt(aa * bb) : 0.0;
  out.covered = covered;
  out.amplitude = Score(out.amplitudeA, out.amplitudeB, covered, false);
  out.phase = Score(out.phaseA, out.phaseB, covered, true);
  return out;
}

}  // namespace ptpinn::metrics
