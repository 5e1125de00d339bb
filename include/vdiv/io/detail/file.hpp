#pragma once
// Whole-file reads and writes with vdiv::io_error messages that name the file.

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
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
  // Appended, not a chain of operator+: g++ 12.2 reports false -Wrestrict / -Wstringop-overflow
  // warnings inside std::string's operator+ here (GCC bug 105329).
  std::string message = "'";
  message.append(file.string()).append("': ").append(problem);
  throw io_error(message);
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

/// Replaces `file` with `size` bytes atomically: they go to a temporary file beside it, which is
/// flushed to disk (fsync) and renamed over `file`, and the directory is synced. Readers, a
/// crash or a full disk leave the old file or the new one, never a part of one.
/// @throws vdiv::io_error naming `file` and the system's reason.
inline void write_file_atomic(const std::filesystem::path& file, const void* data, std::size_t size) {
  const std::filesystem::path dir = file.has_parent_path() ? file.parent_path() : ".";
  // open(O_EXCL) with mode 0666 rather than mkstemp: the new file gets the permissions an
  // ordinary create would (umask applied), without touching the process-wide umask.
  static std::atomic<unsigned> counter{0};
  std::string tmp;
  int fd = -1;
  for (int attempt = 0; fd < 0 && attempt < 100; ++attempt) {
    std::string name = ".";  // appended: see throw_io
    name.append(file.filename().string()).append(".tmp.").append(std::to_string(::getpid()));
    name.append(".").append(std::to_string(counter.fetch_add(1)));
    tmp = (dir / name).string();
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) throw_io(file, std::string("cannot create a temporary file beside it: ") + std::strerror(errno));
  auto fail = [&](const char* what) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    throw_io(file, std::string(what) + ": " + std::strerror(err));
  };
  const auto* p = static_cast<const char*>(data);
  std::size_t left = size;
  while (left > 0) {
    const ::ssize_t put = ::write(fd, p, left);
    if (put < 0) {
      if (errno == EINTR) continue;
      fail("write failed");
    }
    p += put;
    left -= std::size_t(put);
  }
  if (::fsync(fd) != 0) fail("cannot flush to disk");
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw_io(file, std::string("write failed: ") + std::strerror(err));
  }
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw_io(file, std::string("cannot replace it: ") + std::strerror(err));
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);  // best effort: the rename is done; some file systems refuse fsync on dirs
    ::close(dfd);
  }
}

inline void write_file_atomic(const std::filesystem::path& file, std::string_view text) {
  write_file_atomic(file, text.data(), text.size());
}

/// Checks that `file` can be an output file before any work is done: not a directory, and in
/// an existing directory. `what` names the option in the message (e.g. "--out").
/// @throws vdiv::invalid_argument naming the option, the path and the problem.
inline void check_output_path(const std::filesystem::path& file, const std::string& what) {
  std::error_code ec;
  if (file.empty()) throw invalid_argument(what + " is empty");
  if (std::filesystem::is_directory(file, ec)) {
    throw invalid_argument(what + " '" + file.string() + "' is a directory; give a file name");
  }
  const std::filesystem::path dir = file.has_parent_path() ? file.parent_path() : ".";
  if (!std::filesystem::is_directory(dir, ec)) {
    throw invalid_argument(what + " '" + file.string() + "': the directory '" + dir.string() +
                           "' does not exist");
  }
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
