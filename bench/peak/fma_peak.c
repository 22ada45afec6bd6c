// The machine's arithmetic peak, measured: fp32 fused multiply-adds and, where the CPU has
// AVX512_BF16, bf16 dot products, on every core (OpenMP), in registers only. Benchmarks report
// achieved GFLOP/s against these figures instead of a constant typed in from a data sheet.
// Built and run by bench/peak.ts: cc -O2 -march=native -fopenmp fma_peak.c
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

#if defined(__AVX512F__)
typedef __m512 vec;
#define LANES 16
#define FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define SET1(x) _mm512_set1_ps(x)
#define SUM(v) _mm512_reduce_add_ps(v)
#else
typedef __m256 vec;
#define LANES 8
#define FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define SET1(x) _mm256_set1_ps(x)
static float SUM(__m256 v) { float f[8]; _mm256_storeu_ps(f, v); float s = 0; for (int i = 0; i < 8; i++) s += f[i]; return s; }
#endif

// Twelve accumulators named one by one, so that they stay in registers (an array spills to the
// stack at -O2) and hide the FMA latency.
#define REPEAT12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define DECLARE(k) vec acc##k = SET1((float)k);
#define STEP(k) acc##k = FMA(acc##k, a, b);
#define TOTAL(k) s += SUM(acc##k);

static double fp32(long iterations, float *sink) {
  double flops = 0, start = now();
#pragma omp parallel reduction(+ : flops)
  {
    const vec a = SET1(0.999999f), b = SET1(1e-7f);
    REPEAT12(DECLARE)
    for (long i = 0; i < iterations; i++) {
      REPEAT12(STEP)
    }
    float s = 0;
    REPEAT12(TOTAL)
#pragma omp critical
    *sink += s;
    flops += 2.0 * LANES * 12 * iterations;
  }
  return flops / (now() - start) / 1e9;
}

#if defined(__AVX512BF16__)
// vdpbf16ps: 32 bf16 products summed pairwise into 16 fp32 lanes, 64 flops an instruction
#define DECLARE16(k) __m512 acc##k = _mm512_set1_ps((float)k);
#define STEP16(k) acc##k = _mm512_dpbf16_ps(acc##k, a, a);
#define TOTAL16(k) s += _mm512_reduce_add_ps(acc##k);

static double bf16(long iterations, float *sink) {
  double flops = 0, start = now();
#pragma omp parallel reduction(+ : flops)
  {
    const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(1e-3f));
    REPEAT12(DECLARE16)
    for (long i = 0; i < iterations; i++) {
      REPEAT12(STEP16)
    }
    float s = 0;
    REPEAT12(TOTAL16)
#pragma omp critical
    *sink += s;
    flops += 64.0 * 12 * iterations;
  }
  return flops / (now() - start) / 1e9;
}
#endif

int main(void) {
  float sink = 0;
  const long iterations = 100000000;  // about 1 s on one core of 3-4 GHz AVX-512
  fp32(iterations / 20, &sink);       // warm-up: clocks and threads
  double best32 = 0, best16 = 0;
  for (int r = 0; r < 3; r++) {
    double g = fp32(iterations / 3, &sink);
    if (g > best32) best32 = g;
  }
#if defined(__AVX512BF16__)
  for (int r = 0; r < 3; r++) {
    double g = bf16(iterations / 3, &sink);
    if (g > best16) best16 = g;
  }
  printf("{\"threads\":%d,\"fp32_gflops\":%.1f,\"bf16_gflops\":%.1f,\"sink\":%g}\n", omp_get_max_threads(), best32, best16, sink);
#else
  printf("{\"threads\":%d,\"fp32_gflops\":%.1f,\"bf16_gflops\":null,\"sink\":%g}\n", omp_get_max_threads(), best32, sink);
#endif
  return 0;
}
