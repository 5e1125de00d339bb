#pragma once
/// @file
/// Error types and the VDIV_EXPECTS precondition macro.
///
/// Every message should say which input was wrong, what was wrong with it, and, where it
/// helps, what to do instead: users meet these at the command line as often as in code.

#include <stdexcept>
#include <string>

namespace vdiv {

/// Base of every exception vdiv throws.
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A caller passed an argument that can never be valid (negative size, NaN feature, ...).
class invalid_argument : public error {
 public:
  using error::error;
};

/// A constraint set that no crop can satisfy for this image (detected before sampling).
class infeasible_constraint : public error {
 public:
  using error::error;
};

/// A file could not be read, or its contents are malformed.
class io_error : public error {
 public:
  using error::error;
};

/// A CUDA runtime or kernel-launch failure.
class cuda_error : public error {
 public:
  using error::error;
};

namespace detail {
[[noreturn]] inline void throw_invalid_argument(const char* condition, const std::string& message,
                                                const char* file, int line) {
  throw invalid_argument(message + " [check `" + condition + "` failed at " + file + ":" +
                         std::to_string(line) + "]");
}
}  // namespace detail
}  // namespace vdiv

/// Throws vdiv::invalid_argument with `message` (anything convertible to std::string) when
/// `condition` is false. Host code only.
#define VDIV_EXPECTS(condition, message)                                                  \
  do {                                                                                    \
    if (!(condition)) {                                                                   \
      ::vdiv::detail::throw_invalid_argument(#condition, (message), __FILE__, __LINE__); \
    }                                                                                     \
  } while (false)
