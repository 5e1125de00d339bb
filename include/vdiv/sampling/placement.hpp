#pragma once
/// @file
/// Where views may lie: exact counts of the positions (and position pairs) that satisfy a
/// relation, and uniform draws among them.
///
/// A RandomResizedCrop draws a size, then a position uniform over the image's
/// (W - w + 1)(H - h + 1) top-left corners. The exact samplers (exact.hpp) keep that split: a
/// `view_draw` is a view whose size is drawn and whose position is either still uniform over the
/// image (a regular size) or fixed (torchvision's centre-crop fallback, an instance view placed
/// around its box, a given partner). Counting the position pairs two such views may take - per
/// axis, in closed form - turns a rejection over positions into one coin with the exact
/// acceptance probability, and the positions are then drawn uniformly among the valid pairs.

#include <cstdint>
#include <type_traits>

#include "../core/box.hpp"
#include "../core/config.hpp"
#include "../core/math.hpp"
#include "../core/random.hpp"

// Host builds on x86-64 split free-corner pieces with SSE2 (part of x86-64 itself); device
// code, constant evaluation and other targets take the scalar loop (same pieces).
#if !VDIV_IN_DEVICE_CODE && !defined(__CUDACC__) && (defined(__SSE2__) || defined(_M_X64)) && \
    !defined(VDIV_NO_SIMD)
#define VDIV_SAMPLING_SSE2 1
#include <emmintrin.h>
#else
#define VDIV_SAMPLING_SSE2 0
#endif

namespace vdiv {

/// The integer positions [lo, hi] a view's edge may take along one axis (empty when hi < lo).
struct axis_range {
  std::int64_t lo{0}, hi{-1};
  VDIV_HOST_DEVICE constexpr std::int64_t count() const { return hi >= lo ? hi - lo + 1 : 0; }
};

/// A view whose size is drawn: its position is uniform over the image (`fixed` false: left and
/// top are not yet drawn) or fixed at (left, top).
struct view_draw {
  crop view{};
  bool fixed{false};

  /// The left edges the view may take in an image `image_width` wide.
  VDIV_HOST_DEVICE constexpr axis_range x_range(std::int32_t image_width) const {
    return fixed ? axis_range{view.left, view.left} : axis_range{0, image_width - view.width};
  }
  /// The top edges the view may take in an image `image_height` high.
  VDIV_HOST_DEVICE constexpr axis_range y_range(std::int32_t image_height) const {
    return fixed ? axis_range{view.top, view.top} : axis_range{0, image_height - view.height};
  }
};

/// Number of pairs (p, q) with p in `a`, q in `b` and q - p >= d. With d the first view's
/// length, these are the position pairs at which the second view lies wholly after the first.
/// Exact in 64-bit integers for ranges and d below 2^31.
VDIV_HOST_DEVICE constexpr std::int64_t pairs_at_least(axis_range a, axis_range b,
                                                       std::int64_t d) {
  if (a.count() == 0 || b.count() == 0) return 0;
  // p <= b.lo - d: every q of b qualifies
  const std::int64_t full_hi = min_of(a.hi, b.lo - d);
  const std::int64_t full = full_hi >= a.lo ? (full_hi - a.lo + 1) * b.count() : 0;
  // b.lo - d < p <= b.hi - d: q in [p + d, b.hi], b.hi - d - p + 1 of them (an arithmetic run)
  const std::int64_t lo = max_of(a.lo, b.lo - d + 1), hi = min_of(a.hi, b.hi - d);
  const std::int64_t n = hi - lo + 1;
  const std::int64_t run = n > 0 ? n * ((b.hi - d + 1 - lo) + (b.hi - d + 1 - hi)) / 2 : 0;
  return full + run;
}

/// The position pairs of two views along one axis: all of them, and those at which the second
/// view lies wholly after / before the first (no shared pixel along this axis).
struct axis_pairs {
  std::int64_t total{0}, after{0}, before{0};
  VDIV_HOST_DEVICE constexpr std::int64_t apart() const { return after + before; }
  /// Fraction of the pairs that keep the views apart along this axis.
  VDIV_HOST_DEVICE constexpr double apart_fraction() const {
    return total > 0 ? math::div(double(apart()), double(total)) : 0.0;
  }
};

/// Counts the position pairs along one axis of views with positions `a` / `b` and lengths
/// `length_a` / `length_b`.
VDIV_HOST_DEVICE constexpr axis_pairs count_axis_pairs(axis_range a, std::int64_t length_a,
                                                       axis_range b, std::int64_t length_b) {
  return {a.count() * b.count(), pairs_at_least(a, b, length_a), pairs_at_least(b, a, length_b)};
}

/// The position pairs of two views of one image, per axis. The views share no pixel exactly
/// when they are apart along x or along y, and x and y positions are independent, so the
/// fraction of disjoint pairs is fx + fy - fx fy.
struct disjoint_pairs {
  axis_pairs x, y;

  VDIV_HOST_DEVICE constexpr double fraction() const {
    const double fx = x.apart_fraction(), fy = y.apart_fraction();
    return math::sub(math::add(fx, fy), math::mul(fx, fy));
  }
};

VDIV_HOST_DEVICE constexpr disjoint_pairs count_disjoint_pairs(const view_draw& a,
                                                               const view_draw& b,
                                                               std::int32_t width,
                                                               std::int32_t height) {
  return {count_axis_pairs(a.x_range(width), a.view.width, b.x_range(width), b.view.width),
          count_axis_pairs(a.y_range(height), a.view.height, b.y_range(height), b.view.height)};
}

/// A position uniform over `r` from one random word (Lemire's multiply-shift, as every crop).
VDIV_HOST_DEVICE constexpr std::int32_t uniform_in(axis_range r, std::uint32_t word) {
  return std::int32_t(r.lo + std::int64_t(to_below(word, std::uint32_t(r.count()))));
}

/// Places a drawn view: uniform over the image for a regular size (top from `top_word`, left
/// from `left_word`, as torchvision's get_params), as it is when fixed.
VDIV_HOST_DEVICE constexpr crop place_uniformly(const view_draw& d, std::int32_t width,
                                                std::int32_t height, std::uint32_t top_word,
                                                std::uint32_t left_word) {
  if (d.fixed) return d.view;
  return {uniform_in(d.x_range(width), left_word), uniform_in(d.y_range(height), top_word),
          d.view.width, d.view.height};
}

/// The high 64 bits of a * b (exact; the same on host, device and at compile time).
VDIV_HOST_DEVICE constexpr std::uint64_t mul_high(std::uint64_t a, std::uint64_t b) {
  const std::uint64_t a_lo = a & 0xffffffffu, a_hi = a >> 32;
  const std::uint64_t b_lo = b & 0xffffffffu, b_hi = b >> 32;
  const std::uint64_t lo_lo = a_lo * b_lo, hi_lo = a_hi * b_lo, lo_hi = a_lo * b_hi;
  const std::uint64_t cross = (lo_lo >> 32) + (hi_lo & 0xffffffffu) + lo_hi;
  return a_hi * b_hi + (hi_lo >> 32) + (cross >> 32);
}

/// The m-th pair (p ascending, then q ascending) of those counted by pairs_at_least(a, b, d)
/// (m below that count): a uniform m gives a uniform pair, without rejection.
VDIV_HOST_DEVICE constexpr void nth_pair_at_least(axis_range a, axis_range b, std::int64_t d,
                                                  std::int64_t m, std::int64_t& p,
                                                  std::int64_t& q) {
  const std::int64_t nb = b.count();
  const std::int64_t full_hi = min_of(a.hi, b.lo - d);
  const std::int64_t full = full_hi >= a.lo ? (full_hi - a.lo + 1) * nb : 0;
  if (m < full) {  // p with every q of b after it
    p = a.lo + m / nb;
    q = b.lo + m % nb;
    return;
  }
  m -= full;
  // p = lo + k has c0 - k partners, q in [p + d, b.hi]; the pairs before p number
  // S(k) = k c0 - k (k - 1) / 2. k is the root of S(k) = m, rounded down, then made exact.
  const std::int64_t lo = max_of(a.lo, b.lo - d + 1);
  const std::int64_t c0 = b.hi - d + 1 - lo;
  auto before = [c0](std::int64_t k) { return k * c0 - k * (k - 1) / 2; };
  const std::uint64_t b2 = std::uint64_t(2 * c0 + 1);
  const std::uint64_t discriminant = b2 * b2 - 8 * std::uint64_t(m);  // exact, >= 0
  double root = 0.0;
  if (std::is_constant_evaluated()) {
    root = double(math::round_sqrt(double(discriminant)));
  } else {
#if VDIV_IN_DEVICE_CODE
    root = ::sqrt(double(discriminant));
#else
    root = __builtin_sqrt(double(discriminant));
#endif
  }
  std::int64_t k = max_of<std::int64_t>(0, std::int64_t((double(b2) - root) / 2.0));
  while (k > 0 && before(k) > m) --k;
  while (before(k + 1) <= m) ++k;
  p = lo + k;
  q = p + d + (m - before(k));
}

namespace detail {
/// One axis of a disjoint placement: a pair uniform over those apart along it (after or
/// before, in proportion to their counts), from three random words.
VDIV_HOST_DEVICE constexpr void draw_apart(const axis_pairs& counts, axis_range a,
                                           std::int64_t length_a, axis_range b,
                                           std::int64_t length_b, const std::uint32_t* words,
                                           std::int64_t& pa, std::int64_t& pb) {
  const bool after = to_unit_double(words[0]) <
                     math::div(double(counts.after), double(counts.apart()));
  const std::uint64_t bits = (std::uint64_t(words[1]) << 32) | words[2];
  const auto m = std::int64_t(mul_high(bits, std::uint64_t(after ? counts.after : counts.before)));
  if (after)
    nth_pair_at_least(a, b, length_a, m, pa, pb);
  else
    nth_pair_at_least(b, a, length_b, m, pb, pa);
}
}  // namespace detail

/// Rounds of draw_disjoint_positions before it gives up: each succeeds with probability >= 1/2,
/// so giving up has probability < 2^-64.
inline constexpr std::uint32_t disjoint_placement_rounds = 64;

/// Positions for two views of one image, uniform over the position pairs at which they share
/// no pixel (`counts` = count_disjoint_pairs(a, b, ...), with a positive fraction). The union
/// of "apart along x" and "apart along y" is sampled exactly: pick an axis in proportion to its
/// pairs, draw a pair uniformly among those apart along it (nth_pair_at_least) and any
/// positions along the other axis, and keep a pair that is apart along both axes (counted in
/// both sets) with probability 1/2, else start again. Round r reads random_words(key,
/// counter + 2r) and (key, counter + 2r + 1). False only after disjoint_placement_rounds
/// unlucky rounds.
VDIV_HOST_DEVICE constexpr bool draw_disjoint_positions(const view_draw& a, const view_draw& b,
                                                        std::int32_t width, std::int32_t height,
                                                        const disjoint_pairs& counts,
                                                        rng_key key, std::uint32_t counter,
                                                        crop& out_a, crop& out_b) {
  const axis_range ax = a.x_range(width), bx = b.x_range(width);
  const axis_range ay = a.y_range(height), by = b.y_range(height);
  // |apart along x| = apart_x * total_y, |apart along y| = total_x * apart_y
  const double wx = math::mul(double(counts.x.apart()), double(counts.y.total));
  const double wy = math::mul(double(counts.x.total), double(counts.y.apart()));
  const double px = math::div(wx, math::add(wx, wy));
  for (std::uint32_t r = 0; r < disjoint_placement_rounds; ++r) {
    const auto w0 = random_words(key, counter + 2 * r);
    const auto w1 = random_words(key, counter + 2 * r + 1);
    std::int64_t xa = 0, xb = 0, ya = 0, yb = 0;
    if (to_unit_double(w0[0]) < px) {
      detail::draw_apart(counts.x, ax, a.view.width, bx, b.view.width, &w0[1], xa, xb);
      ya = uniform_in(ay, w1[0]);
      yb = uniform_in(by, w1[1]);
    } else {
      detail::draw_apart(counts.y, ay, a.view.height, by, b.view.height, &w0[1], ya, yb);
      xa = uniform_in(ax, w1[0]);
      xb = uniform_in(bx, w1[1]);
    }
    out_a = {std::int32_t(xa), std::int32_t(ya), a.view.width, a.view.height};
    out_b = {std::int32_t(xb), std::int32_t(yb), b.view.width, b.view.height};
    // apart along both axes: this pair is in both sets, keep it half the time
    const bool apart_x = xb - xa >= a.view.width || xa - xb >= b.view.width;
    const bool apart_y = yb - ya >= a.view.height || ya - yb >= b.view.height;
    if (apart_x && apart_y && (w1[2] & 1u)) continue;
    return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Position spaces and free corners (the constructive sampler's placement)

/// Position space of a w x h crop in an image: cols x rows top-left corners, minus the
/// rectangle [xa, xb] x [ya, yb] of forbidden corners (empty when xb < xa or yb < ya).
struct position_space {
  std::int64_t cols{0}, rows{0}, xa{0}, xb{-1}, ya{0}, yb{-1};

  VDIV_HOST_DEVICE constexpr std::int64_t nx() const { return xb >= xa ? xb - xa + 1 : 0; }
  VDIV_HOST_DEVICE constexpr std::int64_t ny() const { return yb >= ya ? yb - ya + 1 : 0; }
  VDIV_HOST_DEVICE constexpr std::int64_t valid() const {
    return (cols > 0 && rows > 0) ? cols * rows - nx() * ny() : 0;
  }
  /// The (left, top) of allowed position number floor(word * valid / 2^32), row-major.
  VDIV_ALWAYS_INLINE VDIV_HOST_DEVICE constexpr void corner(std::uint32_t word,
                                                           std::int64_t& left,
                                                           std::int64_t& top) const {
    // 32-bit divisions: positions < 2^32 because images have width * height < 2^32.
    auto divmod = [](std::int64_t a, std::int64_t b, std::int64_t& q, std::int64_t& m) {
      const auto ua = std::uint32_t(a), ub = std::uint32_t(b);
      q = std::int64_t(ua / ub);
      m = std::int64_t(ua % ub);
    };
    const std::int64_t n_x = nx(), n_y = ny();
    auto r = std::int64_t((std::uint64_t(word) * std::uint64_t(valid())) >> 32);
    if (n_x == 0 || n_y == 0 || r < ya * cols) {
      divmod(r, cols, top, left);
      return;
    }
    r -= ya * cols;
    const std::int64_t band_cols = cols - n_x;
    if (r < n_y * band_cols) {
      std::int64_t q = 0, c = 0;
      divmod(r, band_cols, q, c);
      top = ya + q;
      left = c < xa ? c : c + n_x;
    } else {
      r -= n_y * band_cols;
      std::int64_t q = 0;
      divmod(r, cols, q, left);
      top = yb + 1 + q;
    }
  }
};

/// Corners of a w x h crop that would share a pixel with `other` are forbidden.
VDIV_HOST_DEVICE constexpr position_space disjoint_positions(std::int32_t width,
                                                             std::int32_t height, std::int32_t w,
                                                             std::int32_t h, const crop& other) {
  position_space p;
  p.cols = std::int64_t(width) - w + 1;
  p.rows = std::int64_t(height) - h + 1;
  p.xa = max_of<std::int64_t>(0, std::int64_t(other.left) - w + 1);
  p.xb = min_of<std::int64_t>(p.cols - 1, std::int64_t(other.left) + other.width - 1);
  p.ya = max_of<std::int64_t>(0, std::int64_t(other.top) - h + 1);
  p.yb = min_of<std::int64_t>(p.rows - 1, std::int64_t(other.top) + other.height - 1);
  return p;
}

/// Corners of a w x h crop that leave no strip of width >= strip_w beside it (left or right)
/// and no strip of height >= strip_h (above or below) are forbidden.
VDIV_HOST_DEVICE constexpr position_space room_positions(std::int32_t width, std::int32_t height,
                                                         std::int32_t w, std::int32_t h,
                                                         std::int64_t strip_w,
                                                         std::int64_t strip_h) {
  position_space p;
  p.cols = std::int64_t(width) - w + 1;
  p.rows = std::int64_t(height) - h + 1;
  p.xa = max_of<std::int64_t>(0, std::int64_t(width) - w - strip_w + 1);
  p.xb = min_of<std::int64_t>(p.cols - 1, strip_w - 1);
  p.ya = max_of<std::int64_t>(0, std::int64_t(height) - h - strip_h + 1);
  p.yb = min_of<std::int64_t>(p.rows - 1, strip_h - 1);
  return p;
}

/// Places a w x h crop in a width x height image so it shares no pixel with `other`, uniformly
/// over all such positions (exact count, O(1)). False when no position exists.
VDIV_HOST_DEVICE constexpr bool place_disjoint(std::int32_t width, std::int32_t height,
                                               std::int32_t w, std::int32_t h, const crop& other,
                                               std::uint32_t word, crop& out) {
  const position_space p = disjoint_positions(width, height, w, h, other);
  if (p.valid() <= 0) return false;
  std::int64_t left = 0, top = 0;
  p.corner(word, left, top);
  out = {std::int32_t(left), std::int32_t(top), w, h};
  return true;
}


/// The corners of one crop size left free once rectangles of corners are blocked, kept as
/// disjoint rectangles ("pieces"): blocking a rectangle splits each piece it overlaps into at
/// most 4 (above, below, left, right of the overlap). The count is exact and a free corner is
/// drawn uniformly with one random word. Branch-free where the geometry is random (the
/// predictor cannot guess it, and a mispredict costs more than the arithmetic).
struct free_corners {
  // Enough pieces for the blocks of crowded images (Poisson(20) boxes); each doubling doubles
  // the CUDA stack frame too.
  static constexpr std::uint32_t max_pieces = 64;
  // Two buffers used in turn (no copies); left uninitialised on purpose: only the first
  // `count` entries of the current one are ever read.
  /// Corners [x0, x_end()) x [y0, y_end()). The ends are stored negated: intersecting a piece
  /// with a rectangle is then a lane-wise max of two 4-int records (one SSE2 instruction per
  /// step on the host) and a part of a piece is nonempty exactly where the max moved a lane.
  struct piece {
    std::int32_t x0, neg_x1, y0, neg_y1;
    VDIV_HOST_DEVICE constexpr std::int32_t x_end() const { return -neg_x1; }
    VDIV_HOST_DEVICE constexpr std::int32_t y_end() const { return -neg_y1; }
    VDIV_HOST_DEVICE constexpr std::int64_t corners() const {
      return std::int64_t(x_end() - x0) * (y_end() - y0);
    }
  };
  piece pieces[2][max_pieces];
  std::uint32_t count{0};
  std::uint32_t cur{0};

  /// a when pick, else b, without a branch (the compiler may not keep a ?: branch-free).
  static VDIV_HOST_DEVICE constexpr std::int32_t select(bool pick, std::int32_t a,
                                                        std::int32_t b) {
    return b + ((a - b) & -std::int32_t(pick));
  }

  VDIV_HOST_DEVICE constexpr void reset(std::int32_t cols, std::int32_t rows) {
    cur = 0;
    pieces[0][0] = {0, -cols, 0, -rows};
    count = std::uint32_t((cols > 0) & (rows > 0));
  }

  /// Blocks corners [bx0, bx1] x [by0, by1] (inclusive; empty when bx1 < bx0 or by1 < by0).
  /// When the pieces could outgrow max_pieces the rectangle is not blocked (its corners stay
  /// free: only fewer sure rejections are skipped).
  VDIV_ALWAYS_INLINE VDIV_HOST_DEVICE constexpr void block(std::int64_t bx0, std::int64_t bx1,
                                                          std::int64_t by0, std::int64_t by1) {
    if (count * 4 > max_pieces || bx1 < bx0 || by1 < by0) return;
    // the rectangle as a piece: [cx0, cx1) x [cy0, cy1), ends negated
    const piece cut{std::int32_t(max_of<std::int64_t>(bx0, -1)),
                    -std::int32_t(min_of<std::int64_t>(bx1 + 1, std::int64_t(1) << 30)),
                    std::int32_t(max_of<std::int64_t>(by0, -1)),
                    -std::int32_t(min_of<std::int64_t>(by1 + 1, std::int64_t(1) << 30))};
    const std::uint32_t from = cur, to = cur ^ 1u;
    std::uint32_t n = 0;
#if VDIV_SAMPLING_SSE2
    if (!std::is_constant_evaluated()) {
      n = split_sse2(cut, pieces[from], count, pieces[to]);
      count = n;
      cur = to;
      return;
    }
#endif
    // Each piece splits into the parts above, below, left and right of its overlap o with
    // the cut (o = lane-wise max); a part is nonempty exactly when the cut moved its lane
    // (pieces are nonempty). A piece the cut misses is kept whole, as its "above" part.
    for (std::uint32_t i = 0; i < count; ++i) {
      const piece pc = pieces[from][i];
      const std::int32_t o0 = max_of(pc.x0, cut.x0), o1 = max_of(pc.neg_x1, cut.neg_x1);
      const std::int32_t o2 = max_of(pc.y0, cut.y0), o3 = max_of(pc.neg_y1, cut.neg_y1);
      const bool hit = (o0 + o1 < 0) & (o2 + o3 < 0);
      pieces[to][n] = {pc.x0, pc.neg_x1, pc.y0, select(hit, -o2, pc.neg_y1)};  // above
      n += std::uint32_t(!hit | (cut.y0 > pc.y0));
      pieces[to][n] = {pc.x0, pc.neg_x1, -o3, pc.neg_y1};  // below
      n += std::uint32_t(hit & (cut.neg_y1 > pc.neg_y1));
      pieces[to][n] = {pc.x0, -o0, o2, o3};  // left
      n += std::uint32_t(hit & (cut.x0 > pc.x0));
      pieces[to][n] = {-o1, pc.neg_x1, o2, o3};  // right
      n += std::uint32_t(hit & (cut.neg_x1 > pc.neg_x1));
    }
    count = n;
    cur = to;
  }

#if VDIV_SAMPLING_SSE2
  /// block()'s split, four lanes at a time (same pieces, same order).
  static std::uint32_t split_sse2(const piece& cut, const piece* in, std::uint32_t count,
                                  piece* out) {
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&cut));
    const __m128i zero = _mm_setzero_si128();
    std::uint32_t n = 0;
    for (std::uint32_t i = 0; i < count; ++i) {
      const __m128i p = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
      const __m128i moved = _mm_cmpgt_epi32(c, p);  // lanes where the cut bounds the part
      const __m128i o = _mm_or_si128(_mm_and_si128(moved, c), _mm_andnot_si128(moved, p));
      const __m128i neg_o = _mm_sub_epi32(zero, o);
      // o0 + o1 < 0 and o2 + o3 < 0: the overlap is nonempty
      const __m128i sums = _mm_add_epi32(o, _mm_shuffle_epi32(o, _MM_SHUFFLE(2, 3, 0, 1)));
      const int sign = _mm_movemask_ps(_mm_castsi128_ps(sums));
      const std::uint32_t hit = std::uint32_t((sign & 5) == 5);
      const auto flags = std::uint32_t(_mm_movemask_ps(_mm_castsi128_ps(moved)));
      const __m128 pf = _mm_castsi128_ps(p), of = _mm_castsi128_ps(o);
      const __m128 hi = _mm_castsi128_ps(_mm_unpackhi_epi32(p, neg_o));  // p2 -o2 p3 -o3
      const __m128 lo = _mm_castsi128_ps(_mm_unpacklo_epi32(p, neg_o));  // p0 -o0 p1 -o1
      const __m128 above = _mm_shuffle_ps(pf, hi, _MM_SHUFFLE(1, 0, 1, 0));   // p0 p1 p2 -o2
      const __m128 below = _mm_shuffle_ps(pf, hi, _MM_SHUFFLE(2, 3, 1, 0));   // p0 p1 -o3 p3
      const __m128 left = _mm_shuffle_ps(lo, of, _MM_SHUFFLE(3, 2, 1, 0));    // p0 -o0 o2 o3
      const __m128 right = _mm_shuffle_ps(lo, of, _MM_SHUFFLE(3, 2, 2, 3));   // -o1 p1 o2 o3
      const __m128 keep = _mm_castsi128_ps(_mm_set1_epi32(-std::int32_t(hit)));
      const __m128 first = _mm_or_ps(_mm_and_ps(keep, above), _mm_andnot_ps(keep, pf));
      _mm_storeu_ps(reinterpret_cast<float*>(out + n), first);
      n += (hit ^ 1u) | ((flags >> 2) & 1u);
      _mm_storeu_ps(reinterpret_cast<float*>(out + n), below);
      n += hit & (flags >> 3);
      _mm_storeu_ps(reinterpret_cast<float*>(out + n), left);
      n += hit & flags;
      _mm_storeu_ps(reinterpret_cast<float*>(out + n), right);
      n += hit & (flags >> 1);
    }
    return n;
  }
#endif

  VDIV_HOST_DEVICE constexpr std::int64_t total() const {
    std::int64_t t = 0;
    for (std::uint32_t i = 0; i < count; ++i) t += pieces[cur][i].corners();
    return t;
  }

  /// Free corner number floor(word * total / 2^32) (pieces in order, row-major inside a
  /// piece). Needs total > 0.
  VDIV_HOST_DEVICE constexpr void corner(std::uint32_t word, std::int64_t total_free,
                                         std::int32_t& left, std::int32_t& top) const {
    const auto r = std::int64_t((std::uint64_t(word) * std::uint64_t(total_free)) >> 32);
    std::int64_t before = 0;
    std::int32_t px = 0, py = 0, pw = 1, offset = 0;
    for (std::uint32_t i = 0; i < count; ++i) {
      const piece& pc = pieces[cur][i];
      const std::int32_t w = pc.x_end() - pc.x0;
      const std::int64_t a = std::int64_t(w) * (pc.y_end() - pc.y0);
      const bool here = (r >= before) & (r < before + a);
      px = select(here, pc.x0, px);
      py = select(here, pc.y0, py);
      pw = select(here, w, pw);
      offset = select(here, std::int32_t(r - before), offset);
      before += a;
    }
    // positions < 2^31 within a piece: 32-bit division
    top = py + std::int32_t(std::uint32_t(offset) / std::uint32_t(pw));
    left = px + std::int32_t(std::uint32_t(offset) % std::uint32_t(pw));
  }
};

}  // namespace vdiv
