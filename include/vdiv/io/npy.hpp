#pragma once
/// @file
/// A strict reader of NumPy .npy files holding float32 arrays (what `vdiv ot` reads).
///
/// Strict because a lenient reader turns a damaged file into a wrong answer: the header must be
/// a well-formed NumPy format 1.0-3.0 header, the shape's size must match the bytes that follow
/// it exactly (a truncated file or trailing bytes are errors, as in numpy.load), and a huge
/// declared shape is refused before anything is allocated. Fortran-order arrays are returned in
/// C order. Standard library only (no vdiv::io dependencies).

#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "../core/error.hpp"
#include "detail/file.hpp"

namespace vdiv::io {

static_assert(std::endian::native == std::endian::little,
              "the .npy reader copies little-endian float32 as is");

/// A float32 array in C (row-major) order.
struct npy_array {
  std::vector<std::int64_t> shape;
  std::vector<float> data;  ///< prod(shape) values
};

namespace detail {

/// The three keys of a .npy header dict.
struct npy_header {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::int64_t> shape;
};

/// Parses the Python dict literal of a .npy header, e.g.
/// {'descr': '<f4', 'fortran_order': False, 'shape': (13, 64), }
class npy_header_parser {
 public:
  npy_header_parser(std::string_view text, const std::string& name) : s_(text), name_(name) {}

  npy_header parse() {
    npy_header h;
    bool descr = false, fortran = false, shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = string_literal();
      expect(':');
      if (key == "descr") {
        h.descr = string_literal();
        descr = true;
      } else if (key == "fortran_order") {
        h.fortran_order = boolean();
        fortran = true;
      } else if (key == "shape") {
        h.shape = tuple();
        shape = true;
      } else {
        fail("unexpected header key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      skip_space();
      if (peek() != '}') fail("expected ',' or '}' in the header");
    }
    ++i_;
    skip_space();
    if (i_ != s_.size()) fail("unexpected text after the header dict");
    if (!descr || !fortran || !shape) fail("the header lacks 'descr', 'fortran_order' or 'shape'");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& problem) const {
    vdiv::detail::throw_io(name_, "malformed .npy header: " + problem);
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  std::string string_literal() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string");
    const auto end = s_.find(quote, i_ + 1);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string out(s_.substr(i_ + 1, end - i_ - 1));
    i_ = end + 1;
    return out;
  }
  bool boolean() {
    skip_space();
    if (s_.substr(i_, 4) == "True") {
      i_ += 4;
      return true;
    }
    if (s_.substr(i_, 5) == "False") {
      i_ += 5;
      return false;
    }
    fail("'fortran_order' must be True or False");
  }
  std::vector<std::int64_t> tuple() {
    expect('(');
    std::vector<std::int64_t> dims;
    while (true) {
      skip_space();
      if (peek() == ')') break;
      if (peek() < '0' || peek() > '9') fail("'shape' must be a tuple of non-negative integers");
      std::int64_t v = 0;
      while (peek() >= '0' && peek() <= '9') {
        const int digit = peek() - '0';
        if (v > (INT64_MAX - digit) / 10) fail("a 'shape' dimension overflows 64 bits");
        v = v * 10 + digit;
        ++i_;
      }
      if (peek() == 'L') ++i_;  // Python 2 long literal
      dims.push_back(v);
      if (dims.size() > 32) fail("'shape' has more than 32 dimensions");
      skip_space();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      skip_space();
      if (peek() != ')') fail("expected ',' or ')' in 'shape'");
    }
    ++i_;
    return dims;
  }

  std::string_view s_;
  const std::string& name_;
  std::size_t i_ = 0;
};

inline std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

}  // namespace detail

/// Parses the bytes of a .npy file holding a float32 array. `name` appears in error messages.
/// @throws vdiv::io_error naming `name`: not a .npy file, malformed header, another dtype than
///         little-endian float32 (the message says which and how to convert), a shape whose
///         size does not match the data (truncated file, trailing bytes, or a huge shape).
inline npy_array parse_npy_f32(std::span<const std::uint8_t> bytes, const std::string& name) {
  using vdiv::detail::throw_io;
  static constexpr std::uint8_t magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (bytes.size() < 10 || std::memcmp(bytes.data(), magic, 6) != 0) {
    throw_io(name, "is not a .npy file (no \\x93NUMPY signature)");
  }
  const unsigned major = bytes[6];
  std::size_t header_len = 0, header_start = 0;
  if (major == 1) {
    header_len = std::size_t(bytes[8]) | (std::size_t(bytes[9]) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw_io(name, "is truncated inside the .npy header");
    header_len = std::size_t(bytes[8]) | (std::size_t(bytes[9]) << 8) |
                 (std::size_t(bytes[10]) << 16) | (std::size_t(bytes[11]) << 24);
    header_start = 12;
  } else {
    throw_io(name, "has .npy format version " + std::to_string(major) + ", expected 1, 2 or 3");
  }
  if (header_len > bytes.size() - header_start) {
    throw_io(name, "is truncated inside the .npy header (header length " +
                       std::to_string(header_len) + ", file " + std::to_string(bytes.size()) +
                       " bytes)");
  }
  const std::string_view header_text(reinterpret_cast<const char*>(bytes.data()) + header_start,
                                     header_len);
  const detail::npy_header h = detail::npy_header_parser(header_text, name).parse();
  if (h.descr != "<f4" && h.descr != "|f4" && h.descr != "=f4") {
    throw_io(name, "has dtype " + h.descr +
                       ", expected float32 (<f4); convert with arr.astype(np.float32)" +
                       (h.descr == ">f4" ? " (and little-endian: arr.astype('<f4'))" : ""));
  }
  // The payload bounds the element count, so a huge declared shape is refused before any
  // allocation and the product below cannot overflow.
  const std::size_t payload = bytes.size() - header_start - header_len;
  std::uint64_t count = 1;
  bool empty = false;
  for (const std::int64_t d : h.shape) empty = empty || d == 0;
  if (!empty) {
    for (const std::int64_t d : h.shape) {
      if (std::uint64_t(d) > payload / 4 || count > payload / 4 / std::uint64_t(d)) {
        throw_io(name, "is truncated: its header declares shape " + detail::shape_text(h.shape) +
                           " of float32 but only " + std::to_string(payload) +
                           " bytes of data follow");
      }
      count *= std::uint64_t(d);
    }
  } else {
    count = 0;
  }
  if (count * 4 != payload) {
    throw_io(name, std::string(count * 4 > payload ? "is truncated" : "has trailing bytes") +
                       ": its header declares shape " + detail::shape_text(h.shape) +
                       " of float32 (" + std::to_string(count * 4) + " bytes) but " +
                       std::to_string(payload) + " bytes of data follow");
  }
  npy_array out;
  out.shape = h.shape;
  out.data.resize(count);
  if (count > 0) std::memcpy(out.data.data(), bytes.data() + header_start + header_len, count * 4);
  if (h.fortran_order && h.shape.size() > 1) {
    // Fortran order: the first index varies fastest. Walk the C-order output and carry the
    // matching Fortran offset along.
    const std::size_t rank = h.shape.size();
    std::vector<std::uint64_t> fstride(rank, 1);
    for (std::size_t k = 1; k < rank; ++k) fstride[k] = fstride[k - 1] * std::uint64_t(h.shape[k - 1]);
    std::vector<float> c_order(count);
    std::vector<std::int64_t> index(rank, 0);
    std::uint64_t f = 0;
    for (std::uint64_t i = 0; i < count; ++i) {
      c_order[i] = out.data[f];
      for (std::size_t k = rank; k-- > 0;) {
        if (++index[k] < h.shape[k]) {
          f += fstride[k];
          break;
        }
        f -= fstride[k] * std::uint64_t(h.shape[k] - 1);
        index[k] = 0;
      }
    }
    out.data = std::move(c_order);
  }
  return out;
}

/// Reads a .npy file holding a float32 array (see parse_npy_f32).
/// @throws vdiv::io_error naming the file.
inline npy_array read_npy_f32(const std::filesystem::path& file) {
  const auto bytes = vdiv::detail::read_file_bytes(file);
  return parse_npy_f32(bytes, file.string());
}

}  // namespace vdiv::io
