#include "fft.h"

#include <cmath>
#include <utility>

namespace ptpinn::metrics {

namespace {

// exp(-2 pi i k / n) for k < n / 2, each computed directly (a running product drifts)
std::vector<Complex> Twiddles(int64_t n) {
  std::vector<Complex> t(static_cast<size_t>(n / 2));
  for (int64_t k = 0; k < n / 2; ++k) t[k] = std::polar(1.0, -2 * M_PI * static_cast<double>(k) / n);
  return t;
}

// Forward transform in place of length n, a power of two (the twiddles of n).
void Radix2(Complex* a, int64_t n, const std::vector<Complex>& twiddles) {
  for (int64_t i = 1, j = 0; i < n; ++i) {
    int64_t bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) std::swap(a[i], a[j]);
  }
  for (int64_t len = 2; len <= n; len <<= 1) {
    const int64_t half = len / 2, step = n / len;
    for (int64_t start = 0; start < n; start += len) {
      for (int64_t k = 0; k < half; ++k) {
        const Complex u = a[start + k], v = Mul(a[start + k + half], twiddles[k * step]);
        a[start + k] = u + v;
        a[start + k + half] = u - v;
      }
    }
  }
}

// One length's forward transform, reused over the rows (or columns) of a grid.
class Plan {
 public:
  explicit Plan(int64_t n) : n_(n) {
    m_ = 1;
    while (m_ < n) m_ <<= 1;
    if (m_ == n) {
      twiddles_ = Twiddles(n);
      return;
    }
    // Bluestein: X_k = c_k sum_j (x_j c_j) conj(c_{k-j}), c_k = exp(-i pi k^2 / n), a circular
    // convolution of length m >= 2n - 1
    m_ = 1;
    while (m_ < 2 * n - 1) m_ <<= 1;
    twiddles_ = Twiddles(m_);
    chirp_.resize(static_cast<size_t>(n));
    for (int64_t k = 0; k < n; ++k) {
      // k^2 mod 2n keeps the angle small, so that it stays exact for large k
      chirp_[k] = std::polar(1.0, -M_PI * static_cast<double>((k * k) % (2 * n)) / n);
    }
    kernel_.assign(static_cast<size_t>(m_), Complex{});
    kernel_[0] = std::conj(chirp_[0]);
    for (int64_t k = 1; k < n; ++k) kernel_[k] = kernel_[m_ - k] = std::conj(chirp_[k]);
    Radix2(kernel_.data(), m_, twiddles_);
    work_.resize(static_cast<size_t>(m_));
  }

  // x[0], x[stride], ... x[(n - 1) stride], forward, in place
  void Run(Complex* x, int64_t stride) {
    if (chirp_.empty()) {
      if (stride == 1) {
        Radix2(x, n_, twiddles_);
        return;
      }
      work_.resize(static_cast<size_t>(n_));
      for (int64_t k = 0; k < n_; ++k) work_[k] = x[k * stride];
      Radix2(work_.data(), n_, twiddles_);
      for (int64_t k = 0; k < n_; ++k) x[k * stride] = work_[k];
      return;
    }
    for (int64_t k = 0; k < n_; ++k) work_[k] = Mul(x[k * stride], chirp_[k]);
    std::fill(work_.begin() + n_, work_.end(), Complex{});
    Radix2(work_.data(), m_, twiddles_);
    // the inverse transform as conj(forward(conj)), scaled by 1 / m
    for (int64_t k = 0; k < m_; ++k) work_[k] = std::conj(Mul(work_[k], kernel_[k]));
    Radix2(work_.data(), m_, twiddles_);
    const double scale = 1.0 / static_cast<double>(m_);
    for (int64_t k = 0; k < n_; ++k) x[k * stride] = Mul(std::conj(work_[k]) * scale, chirp_[k]);
  }

 private:
  int64_t n_, m_;
  std::vector<Complex> twiddles_, chirp_, kernel_, work_;
};

}  // namespace

void Fft2(Field& grid, bool inverse) {
  // the inverse as conj(forward(conj(x))) / (h w)
  if (inverse) {
    for (auto& z : grid.v) z = std::conj(z);
  }
  Plan rows(grid.w);
  for (int64_t r = 0; r < grid.h; ++r) rows.Run(&grid(r, 0), 1);
  Plan cols(grid.h);
  for (int64_t c = 0; c < grid.w; ++c) cols.Run(&grid(0, c), grid.w);
  if (inverse) {
    const double scale = 1.0 / static_cast<double>(grid.h * grid.w);
    for (auto& z : grid.v) z = std::conj(z) * scale;
  }
}

std::vector<double> FftFreq(int64_t n, double d) {
  std::vector<double> f(static_cast<size_t>(n));
  const int64_t positive = (n - 1) / 2 + 1;
  // times the reciprocal, as NumPy and LibTorch compute it: rings of the FRC are assigned by
  // rounding radii, and a radius on a half-integer must round the same way
  const double step = 1.0 / (static_cast<double>(n) * d);
  for (int64_t k = 0; k < n; ++k) f[k] = static_cast<double>(k < positive ? k : k - n) * step;
  return f;
}

}  // namespace ptpinn::metrics
