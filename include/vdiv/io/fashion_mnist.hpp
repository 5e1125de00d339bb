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

/// Reads an IDX file holding unsigned bytes (type code 0x08), gzipped or not (zlib reads both).
/// Validates the magic number, the dims and that the payload has exactly prod(dims) bytes.
/// @throws vdiv::io_error naming the file and the problem.
inline idx_array read_idx(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    vdiv::detail::throw_io(file, "no such file (for Fashion-MNIST install the Debian package "
                                 "dataset-fashion-mnist or set VDIV_FASHION_MNIST_DIR)");
  }
  gzFile gz = gzopen(file.c_str(), "rb");
  if (gz == nullptr) vdiv::detail::throw_io(file, "cannot open");
  struct closer {
    gzFile g;
    ~closer() { gzclose(g); }
  } close_at_exit{gz};
  auto read_exact = [&](void* dst, unsigned n, const char* what) {
    const int got = gzread(gz, dst, n);
    if (got != static_cast<int>(n)) {
      int err = 0;
      const char* msg = gzerror(gz, &err);
      vdiv::detail::throw_io(file, std::string("truncated or corrupt IDX file while reading ") +
                                       what + (err != Z_OK && msg ? std::string(" (") + msg + ")" : ""));
    }
  };
  std::uint8_t magic[4];
  read_exact(magic, 4, "the magic number");
  if (magic[0] != 0 || magic[1] != 0) {
    vdiv::detail::throw_io(file, "not an IDX file (magic number must start with two zero bytes)");
  }
  if (magic[2] != 0x08) {
    vdiv::detail::throw_io(file, "IDX element type " + std::to_string(magic[2]) +
                                     " is not unsigned byte (0x08)");
  }
  const int rank = magic[3];
  if (rank < 1 || rank > 4) {
    vdiv::detail::throw_io(file, "IDX rank " + std::to_string(rank) + " is not in 1..4");
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
    if (total > (std::uint64_t(1) << 32)) vdiv::detail::throw_io(file, "IDX dimensions are implausibly large");
  }
  out.data.resize(static_cast<std::size_t>(total));
  std::size_t done = 0;
  while (done < out.data.size()) {
    const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(out.data.size() - done, 1u << 30));
    read_exact(out.data.data() + done, chunk, "the data");
    done += chunk;
  }
  std::uint8_t extra;
  if (gzread(gz, &extra, 1) != 0) {
    vdiv::detail::throw_io(file, "IDX file is longer than its header says (trailing bytes)");
  }
  return out;
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
