#pragma once
/// @file
/// IDX files (the MNIST / Fashion-MNIST format), plain or gzipped, and the Fashion-MNIST
/// dataset as Debian's dataset-fashion-mnist package installs it. These are the real images
/// behind vdiv's generated scenes.
///
/// Needs the `vdiv::io` CMake target (links zlib).

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "../core/error.hpp"
#include "detail/file.hpp"

namespace vdiv::io {

/// An IDX uint8 tensor: dims from the header (e.g. {60000, 28, 28} or {60000}) and the data.
struct idx_array {
  std::vector<std::uint32_t> dims;
  std::vector<std::uint8_t> data;
};

/// Images (count x rows x cols, row-major, 0 = background, 255 = ink) with their labels.
struct idx_dataset {
  std::int32_t count = 0, rows = 0, cols = 0;
  std::vector<std::uint8_t> pixels;
  std::vector<std::uint8_t> labels;

  /// Pointer to the rows*cols pixels of item i.
  const std::uint8_t* item(std::int32_t i) const {
    return pixels.data() + std::size_t(i) * std::size_t(rows) * std::size_t(cols);
  }
};

/// Fashion-MNIST's ten class names, indexed by label.
inline constexpr std::array<std::string_view, 10> fashion_mnist_classes = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

namespace detail {

/// Reads the bytes of an IDX file, plain or gzipped (one or more gzip members, CRC checked).
/// `read` returns how many bytes it could give (fewer only at the end of the data).
class idx_stream {
 public:
  idx_stream(std::span<const std::uint8_t> bytes, const std::string& name)
      : bytes_(bytes), name_(name), gzip_(bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b) {
    if (!gzip_) return;
    if (inflateInit2(&z_, 15 + 32) != Z_OK) vdiv::detail::throw_io(name_, "zlib init failed");
    z_.next_in = const_cast<Bytef*>(bytes_.data());
    z_.avail_in = 0;
    live_ = true;
  }
  ~idx_stream() {
    if (live_) inflateEnd(&z_);
  }
  idx_stream(const idx_stream&) = delete;
  idx_stream& operator=(const idx_stream&) = delete;

  std::size_t read(std::uint8_t* dst, std::size_t n) {
    if (!gzip_) {
      const std::size_t got = std::min(n, bytes_.size() - offset_);
      std::copy_n(bytes_.data() + offset_, got, dst);
      offset_ += got;
      return got;
    }
    std::size_t done = 0;
    while (done < n && !(ended_ && offset_ == bytes_.size())) {
      if (ended_) {
        // Another gzip member follows (as gzip -c a b > ab writes); anything else is damage.
        if (bytes_.size() - offset_ < 2 || bytes_[offset_] != 0x1f || bytes_[offset_ + 1] != 0x8b) {
          vdiv::detail::throw_io(name_, "has trailing bytes after its gzip data");
        }
        inflateReset(&z_);
        ended_ = false;
      }
      const std::size_t in = std::min<std::size_t>(bytes_.size() - offset_, 1u << 30);
      const std::size_t out = std::min<std::size_t>(n - done, 1u << 30);
      z_.next_in = const_cast<Bytef*>(bytes_.data() + offset_);
      z_.avail_in = static_cast<uInt>(in);
      z_.next_out = dst + done;
      z_.avail_out = static_cast<uInt>(out);
      const int rc = inflate(&z_, Z_NO_FLUSH);
      offset_ += in - z_.avail_in;
      done += out - z_.avail_out;
      if (rc == Z_STREAM_END) {
        ended_ = true;
      } else if (rc == Z_BUF_ERROR && offset_ == bytes_.size()) {
        vdiv::detail::throw_io(name_, "truncated gzip data");
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        vdiv::detail::throw_io(name_, std::string("corrupt gzip data (") +
                                          (z_.msg ? z_.msg : "zlib error") + ")");
      }
    }
    return done;
  }

 private:
  std::span<const std::uint8_t> bytes_;
  const std::string& name_;
  bool gzip_;
  std::size_t offset_ = 0;
  z_stream z_{};
  bool live_ = false, ended_ = false;
};

}  // namespace detail

/// Parses the bytes of an IDX file holding unsigned bytes (type code 0x08), gzipped or not.
/// Validates the magic number, the dims and that the payload has exactly prod(dims) bytes;
/// memory grows with the data actually present, so a header declaring a huge size costs nothing.
/// `name` appears in error messages.
/// @throws vdiv::io_error naming `name` and the problem.
inline idx_array parse_idx(std::span<const std::uint8_t> bytes, const std::string& name) {
  detail::idx_stream in(bytes, name);
  auto read_exact = [&](std::uint8_t* dst, std::size_t n, const char* what) {
    if (in.read(dst, n) != n) {
      vdiv::detail::throw_io(name, std::string("truncated or corrupt IDX file while reading ") + what);
    }
  };
  std::uint8_t magic[4];
  read_exact(magic, 4, "the magic number");
  if (magic[0] != 0 || magic[1] != 0) {
    vdiv::detail::throw_io(name, "not an IDX file (magic number must start with two zero bytes)");
  }
  if (magic[2] != 0x08) {
    vdiv::detail::throw_io(name, "IDX element type " + std::to_string(magic[2]) +
                                     " is not unsigned byte (0x08)");
  }
  const int rank = magic[3];
  if (rank < 1 || rank > 4) {
    vdiv::detail::throw_io(name, "IDX rank " + std::to_string(rank) + " is not in 1..4");
  }
  idx_array out;
  std::uint64_t total = 1;
  for (int d = 0; d < rank; ++d) {
    std::uint8_t be[4];
    read_exact(be, 4, "the dimensions");
    const std::uint32_t n = (std::uint32_t(be[0]) << 24) | (std::uint32_t(be[1]) << 16) |
                            (std::uint32_t(be[2]) << 8) | std::uint32_t(be[3]);
    out.dims.push_back(n);
    total *= n;
    if (total > (std::uint64_t(1) << 32)) vdiv::detail::throw_io(name, "IDX dimensions are implausibly large");
  }
  constexpr std::size_t step = std::size_t(1) << 24;
  while (out.data.size() < total) {
    const std::size_t done = out.data.size();
    const std::size_t want = std::min<std::size_t>(std::size_t(total) - done, step);
    out.data.resize(done + want);
    read_exact(out.data.data() + done, want, "the data");
  }
  std::uint8_t extra;
  if (in.read(&extra, 1) != 0) {
    vdiv::detail::throw_io(name, "IDX file is longer than its header says (trailing bytes)");
  }
  return out;
}

/// Reads an IDX file holding unsigned bytes, gzipped or not (see parse_idx).
/// @throws vdiv::io_error naming the file and the problem.
inline idx_array read_idx(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    vdiv::detail::throw_io(file, "no such file (for Fashion-MNIST install the Debian package "
                                 "dataset-fashion-mnist or set VDIV_FASHION_MNIST_DIR)");
  }
  const auto bytes = vdiv::detail::read_file_bytes(file);
  return parse_idx(bytes, file.string());
}

/// Where Fashion-MNIST lives: $VDIV_FASHION_MNIST_DIR, else Debian's
/// /usr/share/datasets/fashion-mnist.
inline std::filesystem::path fashion_mnist_default_dir() {
  if (const char* env = std::getenv("VDIV_FASHION_MNIST_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  return "/usr/share/datasets/fashion-mnist";
}

namespace detail {
inline std::filesystem::path find_idx(const std::filesystem::path& dir, const std::string& stem) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(dir / stem, ec)) return dir / stem;
  return dir / (stem + ".gz");
}
}  // namespace detail

/// True when the four Fashion-MNIST files (plain or .gz) are present in `dir`.
inline bool fashion_mnist_available(const std::filesystem::path& dir = fashion_mnist_default_dir()) {
  std::error_code ec;
  for (const char* stem : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                           "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}) {
    if (!std::filesystem::is_regular_file(detail::find_idx(dir, stem), ec)) return false;
  }
  return true;
}

/// Loads the Fashion-MNIST training (60,000) or test (10,000) split: 28x28 grey items, labels
/// 0..9 (names in fashion_mnist_classes).
/// @throws vdiv::io_error naming the file: missing, bad magic, rank or sizes, image and label
///         counts that disagree, or labels outside 0..9.
inline idx_dataset load_fashion_mnist(bool train,
                                      const std::filesystem::path& dir = fashion_mnist_default_dir()) {
  const std::string prefix = train ? "train" : "t10k";
  const auto image_file = detail::find_idx(dir, prefix + "-images-idx3-ubyte");
  const auto label_file = detail::find_idx(dir, prefix + "-labels-idx1-ubyte");
  idx_array images = read_idx(image_file);
  idx_array labels = read_idx(label_file);
  if (images.dims.size() != 3) {
    vdiv::detail::throw_io(image_file, "expected a rank-3 IDX (count x rows x cols), got rank " +
                                           std::to_string(images.dims.size()));
  }
  if (labels.dims.size() != 1) {
    vdiv::detail::throw_io(label_file, "expected a rank-1 IDX of labels, got rank " +
                                           std::to_string(labels.dims.size()));
  }
  if (images.dims[0] != labels.dims[0]) {
    vdiv::detail::throw_io(label_file, "holds " + std::to_string(labels.dims[0]) +
                                           " labels but '" + image_file.string() + "' holds " +
                                           std::to_string(images.dims[0]) + " images");
  }
  for (std::size_t i = 0; i < labels.data.size(); ++i) {
    if (labels.data[i] > 9) {
      vdiv::detail::throw_io(label_file, "label " + std::to_string(labels.data[i]) + " of item " +
                                             std::to_string(i) + " is outside 0..9");
    }
  }
  idx_dataset out;
  out.count = static_cast<std::int32_t>(images.dims[0]);
  out.rows = static_cast<std::int32_t>(images.dims[1]);
  out.cols = static_cast<std::int32_t>(images.dims[2]);
  out.pixels = std::move(images.data);
  out.labels = std::move(labels.data);
  return out;
}

}  // namespace vdiv::io
