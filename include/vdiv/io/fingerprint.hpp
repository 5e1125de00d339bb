#pragma once
/// @file
/// Fingerprints of datasets and files, so a checkpoint (of `vdiv score`, of a trainer) is never
/// resumed on data or a model that changed since it was written.
///
/// Needs zlib (the `vdiv::io` CMake target).

#include <sys/stat.h>
#include <zlib.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "../core/box.hpp"
#include "../core/error.hpp"

namespace vdiv::io {

/// zlib's CRC-32 and Adler-32 (16 hex digits together) over a dataset's images: each one's
/// path, file size and modification time (ns), declared size and boxes, in order. Rewriting an
/// image, moving a box or editing an annotation changes it; an unreadable file is fingerprinted
/// as missing.
class data_fingerprint {
 public:
  void add_image(const std::filesystem::path& file, std::int32_t width, std::int32_t height,
                 const std::vector<box>& boxes, std::int32_t label = -1) {
    const std::string path = file.string();
    add(path.data(), path.size() + 1);
    struct ::stat st {};
    std::int64_t stamp[2] = {-1, -1};
    if (::stat(file.c_str(), &st) == 0) {
      stamp[0] = std::int64_t(st.st_size);
      stamp[1] = std::int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    }
    add(stamp, sizeof stamp);
    const std::int32_t ints[3] = {width, height, label};
    add(ints, sizeof ints);
    for (const box& b : boxes) add(&b, sizeof b);
    add("\n", 1);
  }
  void add(const void* data, std::size_t size) {
    crc_ = crc32_z(crc_, static_cast<const Bytef*>(data), size);
    adler_ = adler32_z(adler_, static_cast<const Bytef*>(data), size);
  }
  std::string hex() const {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%08lx%08lx", crc_ & 0xffffffffUL, adler_ & 0xffffffffUL);
    return buf;
  }

 private:
  uLong crc_ = crc32(0L, Z_NULL, 0);
  uLong adler_ = adler32(0L, Z_NULL, 0);
};

/// A file's size and CRC-32 (zlib) as "<bytes> bytes, crc32 <hex>", to tell a rewritten file
/// (e.g. a retrained encoder) from the one a checkpoint was made with.
/// @throws vdiv::io_error naming the file when it cannot be read.
inline std::string file_fingerprint(const std::filesystem::path& file) {
  std::FILE* f = std::fopen(file.c_str(), "rb");
  if (f == nullptr) throw io_error("cannot read '" + file.string() + "': " + std::strerror(errno));
  uLong crc = crc32(0L, Z_NULL, 0);
  std::uint64_t size = 0;
  std::vector<unsigned char> chunk(1 << 20);
  for (std::size_t got; (got = std::fread(chunk.data(), 1, chunk.size(), f)) > 0;) {
    crc = crc32_z(crc, chunk.data(), got);
    size += got;
  }
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) throw io_error("cannot read '" + file.string() + "': read error");
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08lx", crc & 0xffffffffUL);
  return std::to_string(size) + " bytes, crc32 " + hex;
}

}  // namespace vdiv::io
