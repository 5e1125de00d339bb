#pragma once
/// @file
/// Portable, bit-reproducible floating-point helpers: exp, log and round(sqrt(x)) built only
/// from +, -, *, / so the crop sampler gives the same bits on the host (any libm) and inside
/// CUDA kernels (libdevice), and at compile time.
///
/// Reproducibility rules (why these helpers exist):
/// - Every product and sum that feeds a sampling decision goes through `mul`, `add`, `sub`,
///   `div`. In CUDA device code they call `__dmul_rn` / `__dadd_rn` / `__dsub_rn` /
///   `__ddiv_rn`, which nvcc never fuses into FMA, so device builds do NOT need `-fmad=false`.
/// - On the host, IEEE double arithmetic is exact-rounded; the only risk is the compiler fusing
///   `a * b + c` into an FMA, which GCC does in its GNU modes (`-std=gnu++20`, CMake's default)
///   whenever the target has FMA (`-march=native`, `-mfma`). `mul` hands its rounded product
///   through an empty asm statement on GCC/Clang (x86-64, AArch64), which the compiler cannot
///   fuse across, so host crops equal the device's whatever the flags
///   (tests/sampling/check_fma_contraction.cmake builds a probe both ways and compares).
/// - exp/log here are accurate to a few ulp (not correctly rounded), which is irrelevant for
///   sampling: what matters is that they return the same bits everywhere.

#include <bit>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "config.hpp"

namespace vdiv::math {

/// a * b rounded to nearest, never fused with a neighbouring add.
VDIV_HOST_DEVICE constexpr double mul(double a, double b) {
#if VDIV_IN_DEVICE_CODE
  if (!std::is_constant_evaluated()) return __dmul_rn(a, b);
#endif
  double p = a * b;
#if !VDIV_IN_DEVICE_CODE && defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  if (!std::is_constant_evaluated()) asm("" : "+x"(p));  // the product must exist, rounded
#elif !VDIV_IN_DEVICE_CODE && defined(__GNUC__) && defined(__aarch64__)
  if (!std::is_constant_evaluated()) asm("" : "+w"(p));
#endif
  return p;
}
/// a + b rounded to nearest, never fused.
VDIV_HOST_DEVICE constexpr double add(double a, double b) {
#if VDIV_IN_DEVICE_CODE
  if (!std::is_constant_evaluated()) return __dadd_rn(a, b);
#endif
  return a + b;
}
/// a - b rounded to nearest, never fused.
VDIV_HOST_DEVICE constexpr double sub(double a, double b) {
#if VDIV_IN_DEVICE_CODE
  if (!std::is_constant_evaluated()) return __dsub_rn(a, b);
#endif
  return a - b;
}
/// a / b rounded to nearest (IEEE division, also on the device).
VDIV_HOST_DEVICE constexpr double div(double a, double b) {
#if VDIV_IN_DEVICE_CODE
  if (!std::is_constant_evaluated()) return __ddiv_rn(a, b);
#endif
  return a / b;
}

inline constexpr double ln2_hi = 6.93147180369123816490e-01;  // upper bits of ln 2 (exact * k)
inline constexpr double ln2_lo = 1.90821492927058770002e-10;  // ln 2 - ln2_hi
inline constexpr double ln2 = 0.69314718055994530942;
inline constexpr double inv_ln2 = 1.44269504088896338700;

/// 2^k for integer k, exact (products of powers of two) for k in [-1074, 1023].
VDIV_HOST_DEVICE constexpr double pow2(int k) {
  double result = 1.0;
  double base = k < 0 ? 0.5 : 2.0;
  unsigned n = k < 0 ? unsigned(-k) : unsigned(k);
  while (n != 0) {
    if (n & 1u) result = mul(result, base);
    base = mul(base, base);
    n >>= 1;
  }
  return result;
}

/// e^x, a few ulp accurate for |x| < 700; +inf / 0 beyond. NaN in, NaN out.
VDIV_HOST_DEVICE constexpr double exp(double x) {
  if (x != x) return x;
  if (x > 709.0) return std::numeric_limits<double>::infinity();
  if (x < -745.0) return 0.0;
  // x = k ln2 + r, |r| <= ln2 / 2 (Cody-Waite split keeps r accurate). For |x| < 0.34 the
  // split gives k = 0 and r = x exactly; taking that shortcut (a predictable branch: crop
  // aspect ratios have |log| < 0.29 by default) starts the polynomial without waiting for k.
  int k = 0;
  double r = x;
  if (!(x < 0.34 && x > -0.34)) {
    const double kd = add(mul(x, inv_ln2), 0.5 - double(x < 0));  // +-0.5 without a branch
    k = int(kd);
    r = sub(sub(x, mul(double(k), ln2_hi)), mul(double(k), ln2_lo));
  }
  // Taylor series to r^13 / 13!: truncation error < 2e-17 relative for |r| <= 0.347.
  constexpr double c[] = {1.0,
                          1.0,
                          1.0 / 2,
                          1.0 / 6,
                          1.0 / 24,
                          1.0 / 120,
                          1.0 / 720,
                          1.0 / 5040,
                          1.0 / 40320,
                          1.0 / 362880,
                          1.0 / 3628800,
                          1.0 / 39916800,
                          1.0 / 479001600,
                          1.0 / 6227020800.0};
  // 1 + (r + r^2 q(r)), q by Estrin's scheme (a tree of depth 4 instead of a chain of 13
  // dependent multiply-adds: crop sampling waits on this latency once per drawn size). The
  // two leading terms are added last, smallest first, so the result stays within ~1 ulp.
  const double r2 = mul(r, r), r4 = mul(r2, r2), r8 = mul(r4, r4);
  auto pair = [&](int i) { return add(c[i], mul(c[i + 1], r)); };
  const double q = add(add(add(pair(2), mul(pair(4), r2)), mul(add(pair(6), mul(pair(8), r2)), r4)),
                       mul(add(pair(10), mul(pair(12), r2)), r8));
  const double p = add(1.0, add(r, mul(r2, q)));
  return k == 0 ? p : mul(p, pow2(k));
}

/// Natural logarithm for finite x > 0; NaN for x <= 0 or NaN.
VDIV_HOST_DEVICE constexpr double log(double x) {
  if (!(x > 0.0)) return std::numeric_limits<double>::quiet_NaN();
  // x = m 2^e with m in [sqrt(1/2), sqrt(2)): scaling by powers of two is exact.
  int e = 0;
  while (x >= 4294967296.0) { x = mul(x, 1.0 / 4294967296.0); e += 32; }
  while (x < 1.0 / 4294967296.0) { x = mul(x, 4294967296.0); e -= 32; }
  while (x >= 1.4142135623730951) { x = mul(x, 0.5); ++e; }
  while (x < 0.7071067811865476) { x = mul(x, 2.0); --e; }
  // log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.1716.
  const double s = div(sub(x, 1.0), add(x, 1.0));
  const double s2 = mul(s, s);
  double p = 1.0 / 23;
  for (int i = 21; i >= 1; i -= 2) p = add(mul(p, s2), 1.0 / i);
  const double log_m = mul(2.0, mul(s, p));
  return add(mul(double(e), ln2_hi), add(mul(double(e), ln2_lo), log_m));
}

/// The correctly rounded square root in integer arithmetic only (digit by digit, round to
/// nearest even): for constant evaluation where the compiler does not fold __builtin_sqrt
/// (clang). Equal to the IEEE 754 square root for every double (tests/core/test_sqrt.cpp).
VDIV_HOST_DEVICE constexpr double sqrt_exact(double x) {
  if (x != x || x < 0.0) return std::numeric_limits<double>::quiet_NaN();
  if (x == 0.0 || x == std::numeric_limits<double>::infinity()) return x;
  if (x < std::numeric_limits<double>::min()) {  // subnormal: scale by 2^108, exactly
    return sqrt_exact(x * 0x1p108) * 0x1p-54;
  }
  const auto bits = std::bit_cast<std::uint64_t>(x);
  std::uint64_t m = (bits & ((std::uint64_t(1) << 52) - 1)) | (std::uint64_t(1) << 52);
  int e = int((bits >> 52) & 0x7FF) - 1075;  // x = m 2^e
  if (e & 1) {
    m <<= 1;
    --e;
  }
  // q = floor(sqrt(m 2^56)), 55 bits, from the 2-bit groups of m 2^56 (the low 56 bits are 0).
  std::uint64_t q = 0, r = 0;
  for (int i = 54; i >= 0; --i) {
    const std::uint64_t two = 2 * i >= 56 ? (m >> (2 * i - 56)) & 3 : 0;
    r = (r << 2) | two;
    const std::uint64_t t = (q << 2) | 1;
    if (r >= t) {
      r -= t;
      q = (q << 1) | 1;
    } else {
      q <<= 1;
    }
  }
  std::uint64_t root = q >> 2;  // 53 bits; then round to nearest, ties to even
  const bool half = (q & 2) != 0, sticky = (q & 1) != 0 || r != 0;
  if (half && (sticky || (root & 1))) ++root;
  // sqrt(x) = sqrt(m 2^56) 2^(e / 2 - 28) = root 2^(e / 2 - 26); a normal power of two.
  const double scale = std::bit_cast<double>(std::uint64_t(e / 2 - 26 + 1023) << 52);
  return double(root) * scale;
}

/// The correctly rounded square root (IEEE 754, also CUDA's double sqrt and GCC's constant
/// folding), so a decision on it is the same on host, device and at compile time.
VDIV_HOST_DEVICE constexpr double sqrt(double x) {
#if VDIV_IN_DEVICE_CODE
  if (!std::is_constant_evaluated()) return ::sqrt(x);
#endif
#if defined(__clang__)
  if (std::is_constant_evaluated()) return sqrt_exact(x);
#endif
  return __builtin_sqrt(x);
}

/// Python's round(): nearest integer, ties to even. |x| < 2^62.
VDIV_HOST_DEVICE constexpr std::int64_t round_half_even(double x) {
  const bool negative = x < 0;
  const double a = negative ? -x : x;
  auto n = std::int64_t(a);  // floor for a >= 0
  const double frac = sub(a, double(n));
  // Bitwise, not short-circuit: the rounding direction is random data, a branch mispredicts.
  n += std::int64_t((frac > 0.5) | ((frac == 0.5) & ((n & 1) != 0)));
  return negative ? -n : n;
}

/// floor(x) as an integer, for |x| < 2^62.
VDIV_HOST_DEVICE constexpr std::int64_t floor_to_int(double x) {
  const auto n = std::int64_t(x);  // truncates toward zero
  return n - std::int64_t(double(n) > x);
}

/// ceil(x) as an integer, for |x| < 2^62.
VDIV_HOST_DEVICE constexpr std::int64_t ceil_to_int(double x) {
  const auto n = std::int64_t(x);
  return n + std::int64_t(double(n) < x);
}

/// The integer nearest to the exact square root of x (ties to even), 0 <= x < 2^48. This is
/// Python's round(math.sqrt(x)) except where math.sqrt rounds onto a half-integer, i.e. x
/// within a few ulp of (k + 1/2)^2 for a large k (probability ~1e-12 for a random size);
/// there the exact root decides. Independent of how the square root estimate was computed,
/// so compile time, host and device agree.
VDIV_HOST_DEVICE constexpr std::int64_t round_sqrt(double x) {
  if (!(x > 0.0)) return 0;
  // Exact decision for a root near k + 1/2: k*k and (k + 1/2)^2 are exact in double.
  auto exact_from = [x](std::int64_t k) {
    while (k > 0 && double(k) * double(k) > x) --k;
    while (double(k + 1) * double(k + 1) <= x) ++k;
    const double half = double(k) * double(k) + double(k) + 0.25;  // (k + 1/2)^2, exact
    // Bitwise, not short-circuit: the rounding direction is random data.
    return k + std::int64_t((x > half) | ((x == half) & ((k & 1) != 0)));
  };
  if (std::is_constant_evaluated()) {
    // Newton steps from a bit-trick estimate, then the exact decision
    const auto bits = std::bit_cast<std::uint64_t>(x);
    double y = std::bit_cast<double>((bits >> 1) + 0x1FF8000000000000ull);
    for (int i = 0; i < 6; ++i) y = 0.5 * (y + x / y);
    return exact_from(std::int64_t(y));
  }
  // The hardware square root is correctly rounded (IEEE 754; CUDA's double sqrt too). No
  // half-integer lies strictly between it and the exact root (half-integers are doubles, and
  // one there would be nearer), so unless the root is one, rounding it half to even rounds the
  // exact root. Rounding by adding and subtracting 2^52 (exact for 0 <= y < 2^52, ties to even
  // in the default rounding mode) keeps the chain after the square root short: sizes are drawn
  // on the critical path of crop sampling.
#if VDIV_IN_DEVICE_CODE
  const double y = ::sqrt(x);
  const double rounded = __dsub_rn(__dadd_rn(y, 0x1p52), 0x1p52);
#else
  const double y = __builtin_sqrt(x);
  double shifted = y + 0x1p52;
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  asm("" : "+x"(shifted));  // keeps -ffast-math-style reassociation from folding the round
#elif defined(__GNUC__) && defined(__aarch64__)
  asm("" : "+w"(shifted));
#endif
  const double rounded = shifted - 0x1p52;
#endif
  const double off = rounded - y;  // exact; +-1/2 only when y is a half-integer (rare)
  if (off == 0.5 || off == -0.5) return exact_from(std::int64_t(y));
  return std::int64_t(rounded);
}

}  // namespace vdiv::math
