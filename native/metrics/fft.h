// The discrete Fourier transform of the metrics addon: any size, double precision. Powers of two
// by radix 2, other sizes by Bluestein's chirp-z through a power of two.
#pragma once

#include "grid.h"

namespace ptpinn::metrics {

// In place, over both axes: numpy.fft.fft2 (unscaled), or with `inverse` numpy.fft.ifft2 (the
// sign flipped and divided by h * w).
void Fft2(Field& grid, bool inverse);

// numpy.fft.fftfreq(n, d): the frequency of each index of a transform of length n, samples d apart.
std::vector<double> FftFreq(int64_t n, double d);

}  // namespace ptpinn::metrics
