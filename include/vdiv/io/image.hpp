#pragma once
/// @file
/// 8-bit RGB images: JPEG/PNG decoding and encoding (libjpeg-turbo's TurboJPEG API and libpng's
/// simplified API), torchvision-compatible bilinear crop-and-resize, and a skip-and-count read
/// for datasets with a few corrupt files.
///
/// Needs the `vdiv::io` CMake target (links libturbojpeg and libpng).

#include <png.h>
#include <turbojpeg.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "../core/box.hpp"
#include "../core/error.hpp"
#include "detail/file.hpp"

namespace vdiv::io {

/// An 8-bit image, row-major HWC. Everything vdiv reads is converted to RGB (channels = 3) so
/// crops and encoders never branch on the source format; writers also accept channels = 1.
struct image_u8 {
  std::int32_t width = 0, height = 0, channels = 3;
  std::vector<std::uint8_t> pixels;

  /// A zero-filled width x height x channels image.
  static image_u8 zeros(std::int32_t width, std::int32_t height, std::int32_t channels = 3) {
    VDIV_EXPECTS(width > 0 && height > 0 && (channels == 1 || channels == 3),
                 "image_u8::zeros: width and height must be positive and channels 1 or 3");
    return {width, height, channels,
            std::vector<std::uint8_t>(std::size_t(width) * height * channels, 0)};
  }
  std::uint8_t& at(std::int32_t x, std::int32_t y, std::int32_t c = 0) {
    return pixels[(std::size_t(y) * width + x) * channels + c];
  }
  std::uint8_t at(std::int32_t x, std::int32_t y, std::int32_t c = 0) const {
    return pixels[(std::size_t(y) * width + x) * channels + c];
  }
  bool empty() const { return pixels.empty(); }
  friend bool operator==(const image_u8&, const image_u8&) = default;
};

inline std::ostream& operator<<(std::ostream& os, const image_u8& im) {
  return os << "image_u8{" << im.width << 'x' << im.height << 'x' << im.channels << '}';
}

/// How strictly decoding treats recoverable damage.
struct image_read_options {
  /// libjpeg-turbo decodes a truncated or partly corrupt JPEG with a warning and fills the rest
  /// grey. By default that is an error (the image is skipped and counted by try_read_image);
  /// set false to accept such images as PIL does for minor damage.
  bool jpeg_warnings_are_errors = true;
};

inline std::ostream& operator<<(std::ostream& os, const image_read_options& o) {
  return os << "image_read_options{.jpeg_warnings_are_errors=" << o.jpeg_warnings_are_errors
            << '}';
}

namespace detail {

struct tj_handle {
  tjhandle handle;
  explicit tj_handle(bool compress) : handle(compress ? tjInitCompress() : tjInitDecompress()) {
    if (handle == nullptr) throw io_error(std::string("TurboJPEG init failed: ") + tjGetErrorStr2(nullptr));
  }
  ~tj_handle() { tjDestroy(handle); }
  tj_handle(const tj_handle&) = delete;
  tj_handle& operator=(const tj_handle&) = delete;
};

// Decoded images above this many pixels are refused: a corrupt header must not make us
// allocate gigabytes.
inline constexpr std::int64_t max_image_pixels = std::int64_t(1) << 28;

// Whether a JPEG's frame is arithmetic-coded (SOF9-SOF15), found by walking its markers up to
// the first start-of-frame.
inline bool jpeg_is_arithmetic(std::span<const std::uint8_t> b) {
  std::size_t i = 2;
  while (i + 4 <= b.size() && b[i] == 0xFF) {
    const std::uint8_t m = b[i + 1];
    if (m == 0xFF) {
      ++i;
    } else if (m == 0x01 || (m >= 0xD0 && m <= 0xD8)) {
      i += 2;
    } else if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
      return m >= 0xC9;
    } else {
      i += 2 + ((std::size_t(b[i + 2]) << 8) | b[i + 3]);
    }
  }
  return false;
}

inline image_u8 decode_jpeg(std::span<const std::uint8_t> bytes, const std::string& name,
                            const image_read_options& options) {
  tj_handle tj(false);
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  if (tjDecompressHeader3(tj.handle, bytes.data(), static_cast<unsigned long>(bytes.size()), &width,
                          &height, &subsampling, &colorspace) != 0) {
    throw io_error("'" + name + "': not a decodable JPEG (" + tjGetErrorStr2(tj.handle) + ")");
  }
  if (width <= 0 || height <= 0 || std::int64_t(width) * height > max_image_pixels) {
    throw io_error("'" + name + "': JPEG header gives an implausible size " +
                   std::to_string(width) + "x" + std::to_string(height));
  }
  // Huffman coding spends at least one bit on every 8x8 luma block's DC coefficient, so a file
  // with fewer bytes than blocks / 8 cannot hold its image: it is truncated far beyond minor
  // damage, and is refused before the image is allocated (a 356-byte file declaring
  // 1987x65279 pixels would otherwise cost 400 MB and seconds). Arithmetic coding has no such
  // floor and is exempt.
  const std::int64_t blocks = std::int64_t((width + 7) / 8) * ((height + 7) / 8);
  if (std::int64_t(bytes.size()) < blocks / 8 && !jpeg_is_arithmetic(bytes)) {
    throw io_error("'" + name + "': truncated JPEG (" + std::to_string(bytes.size()) +
                   " bytes cannot hold a " + std::to_string(width) + "x" +
                   std::to_string(height) + " image)");
  }
  const bool cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  const int format = cmyk ? TJPF_CMYK : TJPF_RGB;
  const int stride = cmyk ? 4 : 3;
  std::vector<std::uint8_t> buffer(std::size_t(width) * height * stride);
  const int flags = options.jpeg_warnings_are_errors ? TJFLAG_STOPONWARNING : 0;
  if (tjDecompress2(tj.handle, bytes.data(), static_cast<unsigned long>(bytes.size()), buffer.data(),
                    width, 0, height, format, flags) != 0) {
    const bool warning = tjGetErrorCode(tj.handle) == TJERR_WARNING;
    if (!warning || options.jpeg_warnings_are_errors) {
      throw io_error("'" + name + "': corrupt JPEG (" + tjGetErrorStr2(tj.handle) + ")");
    }
  }
  image_u8 out{width, height, 3, {}};
  if (!cmyk) {
    out.pixels = std::move(buffer);
    return out;
  }
  // Adobe CMYK JPEGs store inverted ink values; libjpeg hands them back as stored.
  out.pixels.resize(std::size_t(width) * height * 3);
  for (std::size_t i = 0, n = std::size_t(width) * height; i < n; ++i) {
    const unsigned k = buffer[4 * i + 3];
    for (int c = 0; c < 3; ++c) {
      out.pixels[3 * i + c] = static_cast<std::uint8_t>((buffer[4 * i + c] * k + 127) / 255);
    }
  }
  return out;
}

inline image_u8 decode_png(std::span<const std::uint8_t> bytes, const std::string& name) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  if (png_image_begin_read_from_memory(&png, bytes.data(), bytes.size()) == 0) {
    const std::string message = png.message;
    png_image_free(&png);
    throw io_error("'" + name + "': not a decodable PNG (" + message + ")");
  }
  if (png.width == 0 || png.height == 0 ||
      std::int64_t(png.width) * png.height > max_image_pixels) {
    png_image_free(&png);
    throw io_error("'" + name + "': PNG header gives an implausible size");
  }
  // Deflate expands at most 1032-fold and a PNG pixel takes at least one bit, so a file cannot
  // hold more than ~8256 pixels per byte (16384 leaves room): beyond that it is truncated, and
  // is refused before the image is allocated.
  if (std::int64_t(png.width) * png.height > std::int64_t(bytes.size()) * 16384) {
    png_image_free(&png);
    throw io_error("'" + name + "': truncated PNG (" + std::to_string(bytes.size()) +
                   " bytes cannot hold a " + std::to_string(png.width) + "x" +
                   std::to_string(png.height) + " image)");
  }
  // 16-bit files without gAMA/sRGB are taken as sRGB (as PIL does), not as linear light.
  png.flags |= PNG_IMAGE_FLAG_16BIT_sRGB;
  // Read RGBA and drop alpha, as PIL's convert("RGB") does (no compositing).
  png.format = PNG_FORMAT_RGBA;
  std::vector<std::uint8_t> rgba(PNG_IMAGE_SIZE(png));
  if (png_image_finish_read(&png, nullptr, rgba.data(), 0, nullptr) == 0) {
    const std::string message = png.message;
    png_image_free(&png);
    throw io_error("'" + name + "': corrupt PNG (" + message + ")");
  }
  image_u8 out{std::int32_t(png.width), std::int32_t(png.height), 3, {}};
  out.pixels.resize(std::size_t(out.width) * out.height * 3);
  for (std::size_t i = 0, n = std::size_t(out.width) * out.height; i < n; ++i) {
    std::memcpy(&out.pixels[3 * i], &rgba[4 * i], 3);
  }
  png_image_free(&png);
  return out;
}

inline void check_writable(const image_u8& image, const std::filesystem::path& file) {
  if (image.width <= 0 || image.height <= 0 || (image.channels != 1 && image.channels != 3) ||
      image.pixels.size() != std::size_t(image.width) * image.height * image.channels) {
    throw invalid_argument("writing '" + file.string() +
                           "': image must be non-empty with 1 or 3 channels and pixels.size() == "
                           "width*height*channels");
  }
}

}  // namespace detail

/// Decodes JPEG or PNG bytes (recognised by their signature, not by a file extension) to RGB.
/// `name` is only used in error messages.
/// @throws vdiv::io_error naming `name` and the problem for unknown formats or corrupt data.
inline image_u8 decode_image(std::span<const std::uint8_t> bytes, const std::string& name,
                             const image_read_options& options = {}) {
  if (bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF) {
    return detail::decode_jpeg(bytes, name, options);
  }
  static constexpr std::uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), png_signature, 8) == 0) {
    return detail::decode_png(bytes, name);
  }
  throw io_error("'" + name + "': neither a JPEG nor a PNG (" +
                 (bytes.empty() ? std::string("empty file") : std::string("unknown signature")) +
                 ")");
}

/// Reads a JPEG or PNG file as RGB.
/// @throws vdiv::io_error naming the file: missing, unreadable, unknown format or corrupt.
inline image_u8 read_image(const std::filesystem::path& file, const image_read_options& options = {}) {
  const auto bytes = vdiv::detail::read_file_bytes(file);
  return decode_image(bytes, file.string(), options);
}

/// Encodes to JPEG (4:2:0 chroma for RGB, like PIL's default), quality 1..100.
inline std::vector<std::uint8_t> encode_jpeg(const image_u8& image, int quality = 90) {
  detail::check_writable(image, "<memory>");
  VDIV_EXPECTS(quality >= 1 && quality <= 100, "encode_jpeg: quality must be in 1..100");
  detail::tj_handle tj(true);
  unsigned char* out = nullptr;
  unsigned long size = 0;
  const int format = image.channels == 3 ? TJPF_RGB : TJPF_GRAY;
  const int subsampling = image.channels == 3 ? TJSAMP_420 : TJSAMP_GRAY;
  if (tjCompress2(tj.handle, image.pixels.data(), image.width, 0, image.height, format, &out, &size,
                  subsampling, quality, 0) != 0) {
    if (out != nullptr) tjFree(out);
    throw io_error(std::string("JPEG encoding failed: ") + tjGetErrorStr2(tj.handle));
  }
  std::vector<std::uint8_t> bytes(out, out + size);
  tjFree(out);
  return bytes;
}

/// Writes a JPEG file. @throws vdiv::io_error naming the file when it cannot be written.
inline void write_jpeg(const std::filesystem::path& file, const image_u8& image, int quality = 90) {
  detail::check_writable(image, file);
  const auto bytes = encode_jpeg(image, quality);
  vdiv::detail::write_file_bytes(file, bytes.data(), bytes.size());
}

/// Encodes to PNG (lossless; for fixtures and plots).
inline std::vector<std::uint8_t> encode_png(const image_u8& image) {
  detail::check_writable(image, "<memory>");
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  png.width = static_cast<png_uint_32>(image.width);
  png.height = static_cast<png_uint_32>(image.height);
  png.format = image.channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  png_alloc_size_t size = 0;
  if (png_image_write_to_memory(&png, nullptr, &size, 0, image.pixels.data(), 0, nullptr) == 0) {
    throw io_error(std::string("PNG encoding failed: ") + png.message);
  }
  std::vector<std::uint8_t> bytes(size);
  if (png_image_write_to_memory(&png, bytes.data(), &size, 0, image.pixels.data(), 0, nullptr) ==
      0) {
    throw io_error(std::string("PNG encoding failed: ") + png.message);
  }
  bytes.resize(size);
  return bytes;
}

/// Writes a PNG file. @throws vdiv::io_error naming the file when it cannot be written.
inline void write_png(const std::filesystem::path& file, const image_u8& image) {
  detail::check_writable(image, file);
  const auto bytes = encode_png(image);
  vdiv::detail::write_file_bytes(file, bytes.data(), bytes.size());
}

namespace detail {

struct linear_tap {
  std::int32_t i0, i1;
  float w0, w1;
};

// PyTorch's upsample_bilinear2d index/weight rule for align_corners=False, in float, as
// torchvision's resize of a float tensor computes it: src = max(scale * (dst + 0.5) - 0.5, 0),
// scale = in / out, i0 = floor(src), i1 = i0 + 1 clamped to the last index.
inline std::vector<linear_tap> linear_taps(std::int32_t in, std::int32_t out) {
  std::vector<linear_tap> taps(static_cast<std::size_t>(out));
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  for (std::int32_t d = 0; d < out; ++d) {
    float src = scale * (static_cast<float>(d) + 0.5f) - 0.5f;
    if (src < 0.0f) src = 0.0f;
    std::int32_t i0 = std::min(static_cast<std::int32_t>(src), in - 1);
    float w1 = std::min(std::max(src - static_cast<float>(i0), 0.0f), 1.0f);
    const std::int32_t i1 = i0 + (i0 < in - 1 ? 1 : 0);
    taps[static_cast<std::size_t>(d)] = {i0, i1, 1.0f - w1, w1};
  }
  return taps;
}

// torch.round (half to even) of a value in [0, 255], clamped. Adding and subtracting 2^23
// rounds to nearest-even in the default rounding mode without a libm call (x86-64 without
// SSE4.1 cannot inline std::nearbyint); -ffast-math may fold it away, so fall back there.
inline std::uint8_t round_half_even_u8(float v) {
  v = std::min(std::max(v, 0.0f), 255.0f);
#if defined(__FAST_MATH__)
  return static_cast<std::uint8_t>(std::nearbyint(v));
#else
  constexpr float two_23 = 8388608.0f;
  return static_cast<std::uint8_t>((v + two_23) - two_23);
#endif
}

// The interpolation proper, with the channel count known at compile time so the inner loop
// unrolls. Arithmetic order is torchvision's: (x00*wx0 + x01*wx1)*wy0 + (x10*wx0 + x11*wx1)*wy1.
template <int Channels>
void bilinear_rows(const image_u8& image, const crop& region, const std::vector<linear_tap>& xs,
                   const std::vector<linear_tap>& ys, image_u8& out) {
  const std::size_t row = std::size_t(image.width) * Channels;
  for (std::int32_t oy = 0; oy < out.height; ++oy) {
    const auto& ty = ys[std::size_t(oy)];
    const std::uint8_t* r0 = image.pixels.data() + std::size_t(region.top + ty.i0) * row;
    const std::uint8_t* r1 = image.pixels.data() + std::size_t(region.top + ty.i1) * row;
    std::uint8_t* dst = out.pixels.data() + std::size_t(oy) * std::size_t(out.width) * Channels;
    for (std::int32_t ox = 0; ox < out.width; ++ox) {
      const auto& tx = xs[std::size_t(ox)];
      const std::size_t c0 = std::size_t(region.left + tx.i0) * Channels;
      const std::size_t c1 = std::size_t(region.left + tx.i1) * Channels;
      for (int c = 0; c < Channels; ++c) {
        const float top = float(r0[c0 + c]) * tx.w0 + float(r0[c1 + c]) * tx.w1;
        const float bottom = float(r1[c0 + c]) * tx.w0 + float(r1[c1 + c]) * tx.w1;
        dst[std::size_t(ox) * Channels + c] = round_half_even_u8(top * ty.w0 + bottom * ty.w1);
      }
    }
  }
}

}  // namespace detail

/// Crops `region` out of `image` and resizes it to out_width x out_height with bilinear
/// interpolation, as torchvision's `resized_crop` does on a uint8 tensor with antialias off
/// (align_corners=False, float arithmetic, round half to even). Parts of `region` outside the
/// image read as 0, as torchvision's crop pads. Measured against torchvision 0.14 on a real
/// photo: max |difference| <= 1 grey level (float summation order), see tests/io.
/// @throws vdiv::invalid_argument for an empty image, empty region or non-positive output size.
inline image_u8 crop_resize(const image_u8& image, const crop& region, std::int32_t out_width,
                            std::int32_t out_height) {
  VDIV_EXPECTS(!image.empty() && image.pixels.size() == std::size_t(image.width) * image.height *
                                                            image.channels,
               "crop_resize: the image is empty or its pixel buffer does not match its size");
  VDIV_EXPECTS(region.width > 0 && region.height > 0, "crop_resize: the crop region is empty");
  VDIV_EXPECTS(out_width > 0 && out_height > 0, "crop_resize: output size must be positive");
  if (!inside_image(region, image.width, image.height)) {
    // Rare path: materialise the zero-padded crop, then resize it.
    image_u8 padded = image_u8::zeros(region.width, region.height, image.channels);
    for (std::int32_t y = 0; y < region.height; ++y) {
      const std::int32_t sy = region.top + y;
      if (sy < 0 || sy >= image.height) continue;
      for (std::int32_t x = 0; x < region.width; ++x) {
        const std::int32_t sx = region.left + x;
        if (sx < 0 || sx >= image.width) continue;
        for (std::int32_t c = 0; c < image.channels; ++c) padded.at(x, y, c) = image.at(sx, sy, c);
      }
    }
    return crop_resize(padded, {0, 0, region.width, region.height}, out_width, out_height);
  }
  const auto xs = detail::linear_taps(region.width, out_width);
  const auto ys = detail::linear_taps(region.height, out_height);
  image_u8 out{out_width, out_height, image.channels,
               std::vector<std::uint8_t>(std::size_t(out_width) * out_height * image.channels)};
  if (image.channels == 3) {
    detail::bilinear_rows<3>(image, region, xs, ys, out);
  } else {
    detail::bilinear_rows<1>(image, region, xs, ys, out);
  }
  return out;
}

/// Resizes the whole image (crop_resize over the full frame).
inline image_u8 resize(const image_u8& image, std::int32_t out_width, std::int32_t out_height) {
  return crop_resize(image, {0, 0, image.width, image.height}, out_width, out_height);
}

/// Thread-safe tally of images a run skipped, keeping the first few reasons for the report.
/// Long runs over real datasets meet a handful of corrupt files; they are skipped and counted,
/// never fatal.
class skip_counter {
 public:
  explicit skip_counter(std::size_t max_examples = 20) : max_examples_(max_examples) {}

  /// Records one skipped image and why.
  void record(std::string reason) {
    count_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mutex_);
    if (examples_.size() < max_examples_) examples_.push_back(std::move(reason));
  }
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  /// The first `max_examples` reasons (each names the file).
  std::vector<std::string> examples() const {
    std::lock_guard lock(mutex_);
    return examples_;
  }

 private:
  std::atomic<std::uint64_t> count_{0};
  mutable std::mutex mutex_;
  std::size_t max_examples_;
  std::vector<std::string> examples_;
};

/// read_image that returns std::nullopt and records the io_error in `skipped` instead of
/// throwing. Other exceptions (e.g. std::bad_alloc) still propagate.
inline std::optional<image_u8> try_read_image(const std::filesystem::path& file, skip_counter& skipped,
                                              const image_read_options& options = {}) {
  try {
    return read_image(file, options);
  } catch (const io_error& e) {
    skipped.record(e.what());
    return std::nullopt;
  }
}

}  // namespace vdiv::io
