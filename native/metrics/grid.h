// Row-major images of the LibTorch-free metrics addon: what the metrics need of a tensor library.
#pragma once

#include <complex>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ptpinn::metrics {

using Complex = std::complex<double>;

template <typename T>
struct Grid {
  int64_t h = 0, w = 0;
  std::vector<T> v;

  Grid() = default;
  Grid(int64_t rows, int64_t cols, T fill = T{}) : h(rows), w(cols), v(static_cast<size_t>(rows * cols), fill) {}
  T& operator()(int64_t r, int64_t c) { return v[static_cast<size_t>(r * w + c)]; }
  const T& operator()(int64_t r, int64_t c) const { return v[static_cast<size_t>(r * w + c)]; }
  bool empty() const { return v.empty(); }
};

using Real = Grid<double>;
using Field = Grid<Complex>;

// A real image as a complex one.
inline Field ToField(const Real& r) {
  Field f(r.h, r.w);
  for (size_t i = 0; i < r.v.size(); ++i) f.v[i] = r.v[i];
  return f;
}

template <typename T>
T Mean(const Grid<T>& g) {
  T total{};
  for (const T& x : g.v) total += x;
  return total / static_cast<double>(g.v.size());
}

// a * b without the C99 Annex G checks for infinities (GCC calls __muldc3 for those), which make
// std::complex's product several times slower in the transforms' inner loops
inline Complex Mul(const Complex& a, const Complex& b) {
  return {a.real() * b.real() - a.imag() * b.imag(), a.real() * b.imag() + a.imag() * b.real()};
}

}  // namespace ptpinn::metrics
