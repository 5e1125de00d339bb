#pragma once
// JSON for vdiv::io: parsing with simdjson (On Demand for COCO files, DOM for small files; chosen
// by measurement, see bench/io/README.md), with nlohmann::json's SAX parser used only on the
// error path to locate a syntax error (simdjson reports what, not where); writing (COCO JSON,
// pseudo boxes, the make_scenes manifest) with nlohmann::ordered_json.

#include <fcntl.h>
#include <simdjson.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "../../core/error.hpp"
#include "file.hpp"

namespace vdiv::detail {

// A SAX handler that accepts everything and remembers where parsing failed.
struct json_error_locator {
  std::size_t position = 0;
  std::string message;
  bool failed = false;

  using json = nlohmann::json;
  bool null() { return true; }
  bool boolean(bool) { return true; }
  bool number_integer(json::number_integer_t) { return true; }
  bool number_unsigned(json::number_unsigned_t) { return true; }
  bool number_float(json::number_float_t, const json::string_t&) { return true; }
  bool string(json::string_t&) { return true; }
  bool binary(json::binary_t&) { return true; }
  bool start_object(std::size_t) { return true; }
  bool key(json::string_t&) { return true; }
  bool end_object() { return true; }
  bool start_array(std::size_t) { return true; }
  bool end_array() { return true; }
  bool parse_error(std::size_t pos, const std::string&, const nlohmann::detail::exception& ex) {
    failed = true;
    position = pos;
    message = ex.what();
    // nlohmann's message reads "[json.exception.parse_error.101] parse error at line L, column
    // C: <problem>"; keep the problem, we print our own location.
    if (!message.empty() && message[0] == '[') {
      if (const auto end = message.find("] "); end != std::string::npos) message.erase(0, end + 2);
    }
    if (message.rfind("parse error", 0) == 0) {
      if (const auto colon = message.find(": "); colon != std::string::npos) message.erase(0, colon + 2);
    }
    return false;
  }
};

[[noreturn]] inline void throw_json_syntax(std::string_view text, const std::string& name,
                                           simdjson::error_code code) {
  json_error_locator locator;
  nlohmann::json::sax_parse(text.begin(), text.end(), &locator);
  if (locator.failed) {
    // nlohmann's position counts characters read including the offending one (1-based).
    const std::size_t offset = locator.position > 0 ? locator.position - 1 : 0;
    const auto [line, column] = line_and_column(text, offset);
    throw io_error("'" + name + "': malformed JSON at byte " + std::to_string(offset) + " (line " +
                   std::to_string(line) + ", column " + std::to_string(column) +
                   "): " + locator.message);
  }
  throw io_error("'" + name + "': malformed JSON: " + simdjson::error_message(code) +
                 " (position unknown)");
}

/// Parses a JSON document held in `json` with `parser`; io_error naming `name`, the byte
/// offset, line and column and the problem on a syntax error.
inline simdjson::dom::element parse_json(simdjson::dom::parser& parser,
                                         const simdjson::padded_string& json,
                                         const std::string& name) {
  simdjson::dom::element root;
  const auto code = parser.parse(json).get(root);
  if (code != simdjson::SUCCESS) throw_json_syntax(std::string_view(json.data(), json.size()), name, code);
  return root;
}

/// A JSON file's bytes for simdjson: memory-mapped read-only when the mapping's last page has
/// the SIMDJSON_PADDING slack simdjson needs (almost always), else copied into a padded_string.
/// Mapping avoids allocating and first-touching a 450 MB buffer (seconds on some VMs).
/// Do not truncate the file while it is being parsed.
class json_file {
 public:
  explicit json_file(const std::filesystem::path& file) {
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) throw_io(file, "no such file (check the path)");
    if (std::filesystem::is_directory(file, ec)) throw_io(file, "is a directory, expected a JSON file");
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_io(file, std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      ::close(fd);
      throw_io(file, "cannot stat");
    }
    size_ = static_cast<std::size_t>(st.st_size);
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    const std::size_t mapped = (size_ + page - 1) / page * page;
    if (size_ > 0 && mapped - size_ >= simdjson::SIMDJSON_PADDING) {
      void* p = ::mmap(nullptr, mapped, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
      if (p != MAP_FAILED) {
        map_ = p;
        mapped_ = mapped;
      }
    }
    ::close(fd);
    if (map_ == nullptr) {
      if (simdjson::padded_string::load(file.string()).get(copy_) != simdjson::SUCCESS) {
        throw_io(file, "cannot read");
      }
      size_ = copy_.size();
    }
  }
  ~json_file() {
    if (map_ != nullptr) ::munmap(map_, mapped_);
  }
  json_file(const json_file&) = delete;
  json_file& operator=(const json_file&) = delete;

  const char* data() const { return map_ ? static_cast<const char*>(map_) : copy_.data(); }
  std::size_t size() const { return size_; }
  /// Readable bytes from data() (>= size() + SIMDJSON_PADDING).
  std::size_t capacity() const { return map_ ? mapped_ : size_ + simdjson::SIMDJSON_PADDING; }
  std::string_view text() const { return {data(), size_}; }

 private:
  void* map_ = nullptr;
  std::size_t mapped_ = 0, size_ = 0;
  simdjson::padded_string copy_;
};

/// Loads a file into simdjson's padded buffer; io_error naming the file when it is missing.
inline simdjson::padded_string load_json_text(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) throw_io(file, "no such file (check the path)");
  if (std::filesystem::is_directory(file, ec)) throw_io(file, "is a directory, expected a JSON file");
  simdjson::padded_string text;
  if (simdjson::padded_string::load(file.string()).get(text) != simdjson::SUCCESS) {
    throw_io(file, "cannot read");
  }
  return text;
}

// Where a value sits, for schema errors: section[index].field (built only when throwing, so the
// hot loop over 860k annotations allocates nothing). simdjson's DOM keeps no source positions;
// the JSON path is exact and greppable.
struct json_where {
  const std::string* name;  // the file
  const char* section;      // "images", "annotations", ... or a key for top-level values
  std::size_t index = std::size_t(-1);  // -1: not inside an array
  std::string path(std::string_view field = {}) const {
    std::string p = section;
    if (index != std::size_t(-1)) p += "[" + std::to_string(index) + "]";
    if (!field.empty()) (p += '.') += field;
    return p;
  }
};

[[noreturn]] inline void throw_schema(const json_where& where, std::string_view field,
                                      const std::string& problem) {
  throw io_error("'" + *where.name + "': " + where.path(field) + ": " + problem);
}

inline std::int64_t json_int(simdjson::dom::element e, const json_where& where,
                             std::string_view field) {
  std::int64_t i = 0;
  if (e.get_int64().get(i) == simdjson::SUCCESS) return i;
  double d = 0;
  // COCO writers sometimes emit integral floats (e.g. "width": 640.0).
  if (e.get_double().get(d) == simdjson::SUCCESS && std::isfinite(d) && d == std::floor(d) &&
      std::fabs(d) < 9e15) {
    return static_cast<std::int64_t>(d);
  }
  throw_schema(where, field, "expected an integer");
}

inline double json_number(simdjson::dom::element e, const json_where& where,
                          std::string_view field) {
  double d = 0;
  if (e.get_double().get(d) == simdjson::SUCCESS) return d;  // also accepts integers
  throw_schema(where, field, "expected a number");
}

inline std::string_view json_string(simdjson::dom::element e, const json_where& where,
                                    std::string_view field) {
  std::string_view s;
  if (e.get_string().get(s) == simdjson::SUCCESS) return s;
  throw_schema(where, field, "expected a string");
}

/// The value of `key` in `o`; schema error when missing.
inline simdjson::dom::element json_field(simdjson::dom::object o, std::string_view key,
                                         const json_where& where) {
  simdjson::dom::element e;
  if (o.at_key(key).get(e) != simdjson::SUCCESS) {
    throw_schema(where, {}, "missing field \"" + std::string(key) + "\"");
  }
  return e;
}

inline simdjson::dom::array json_array(simdjson::dom::element e, const json_where& where,
                                       std::string_view field) {
  simdjson::dom::array a;
  if (e.get_array().get(a) == simdjson::SUCCESS) return a;
  throw_schema(where, field, "expected an array");
}

inline simdjson::dom::object json_object(simdjson::dom::element e, const json_where& where,
                                         std::string_view field) {
  simdjson::dom::object o;
  if (e.get_object().get(o) == simdjson::SUCCESS) return o;
  throw_schema(where, field, "expected an object");
}

/// A number for a written JSON document: an integer when `v` is integral (and fits in int64),
/// else the double (nlohmann writes the shortest decimal that reads back as `v`).
inline nlohmann::ordered_json json_number_value(double v) {
  if (std::isfinite(v) && v == std::trunc(v) && std::fabs(v) < 0x1p63) {
    return static_cast<std::int64_t>(v);
  }
  return v;
}

/// A float as a JSON number: an integer when integral, else the shortest decimal that reads
/// back as `v` (0.3f is written 0.3, not 0.30000001192092896, its value as a double).
inline nlohmann::ordered_json json_number_value(float v) {
  if (!std::isfinite(v) || (v == std::trunc(v) && std::fabs(v) < 0x1p63f)) {
    return json_number_value(static_cast<double>(v));
  }
  char buf[32];
  const auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;  // shortest round trip
  double d = 0;
  std::from_chars(buf, end, d);
  return d;
}

}  // namespace vdiv::detail
