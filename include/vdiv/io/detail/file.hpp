#pragma once
// Whole-file reads and writes with vdiv::io_error messages that name the file.

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "../../core/error.hpp"

namespace vdiv::detail {

[[noreturn]] inline void throw_io(const std::filesystem::path& file, const std::string& problem) {
  throw io_error("'" + file.string() + "': " + problem);
}

/// Reads a whole file. Throws io_error naming the file when it is missing, a directory, or
/// unreadable.
inline std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& file) {
  std::error_code ec;
  const auto status = std::filesystem::status(file, ec);
  if (ec || !std::filesystem::exists(status)) {
    throw_io(file, "no such file (check the path)");
  }
  if (std::filesystem::is_directory(status)) throw_io(file, "is a directory, expected a file");
  std::FILE* f = std::fopen(file.c_str(), "rb");
  if (f == nullptr) throw_io(file, std::string("cannot open: ") + std::strerror(errno));
  std::vector<std::uint8_t> bytes;
  std::uint8_t chunk[1 << 16];
  for (;;) {
    const std::size_t got = std::fread(chunk, 1, sizeof chunk, f);
    bytes.insert(bytes.end(), chunk, chunk + got);
    if (got < sizeof chunk) break;
  }
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) throw_io(file, "read error");
  return bytes;
}

/// Writes `size` bytes to `file` (creating or truncating it); io_error naming the file on failure.
inline void write_file_bytes(const std::filesystem::path& file, const void* data, std::size_t size) {
  std::FILE* f = std::fopen(file.c_str(), "wb");
  if (f == nullptr) throw_io(file, std::string("cannot create: ") + std::strerror(errno));
  const std::size_t put = size == 0 ? 0 : std::fwrite(data, 1, size, f);
  const bool failed = std::fclose(f) != 0 || put != size;
  if (failed) throw_io(file, "write failed (disk full?)");
}

inline void write_file_text(const std::filesystem::path& file, std::string_view text) {
  write_file_bytes(file, text.data(), text.size());
}

/// Line (1-based) and column (1-based, in bytes) of byte `offset` in `text`.
inline std::pair<std::size_t, std::size_t> line_and_column(std::string_view text,
                                                           std::size_t offset) {
  if (offset > text.size()) offset = text.size();
  std::size_t line = 1, line_start = 0;
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return {line, offset - line_start + 1};
}

}  // namespace vdiv::detail
