#pragma once
/// @file
/// Boxes as command-line text, "x0,y0,x1,y1;x0,y0,x1,y1" (pixels, top-left / bottom-right), with
/// error messages that name the offending box, for tools and config files.

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "../core/box.hpp"
#include "../core/error.hpp"

namespace vdiv {

/// Parses "x0,y0,x1,y1;..." (empty text -> no boxes; spaces allowed). Throws
/// vdiv::invalid_argument naming the box (1-based position and its text) when it does not have
/// exactly 4 finite numbers.
inline std::vector<box> parse_boxes(std::string_view text) {
  std::vector<box> out;
  std::size_t start = 0;
  std::size_t number = 0;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find(';', start), text.size());
    const std::string item(text.substr(start, end - start));
    start = end + 1;
    if (item.find_first_not_of(" \t") == std::string::npos) {
      if (end == text.size()) break;
      ++number;
      throw invalid_argument("box " + std::to_string(number) + " is empty; write boxes as "
                             "\"x0,y0,x1,y1;x0,y0,x1,y1\"");
    }
    ++number;
    float v[4];
    std::size_t count = 0;
    const char* p = item.c_str();
    const char* const stop = p + item.size();
    while (p < stop) {
      while (p < stop && (*p == ' ' || *p == '\t')) ++p;
      if (p == stop) break;
      if (count == 4) { count = 5; break; }
      char* next = nullptr;
      errno = 0;
      const float x = std::strtof(p, &next);
      if (next == p || errno == ERANGE || !std::isfinite(x)) { count = 99; break; }
      v[count++] = x;
      p = next;
      while (p < stop && (*p == ' ' || *p == '\t')) ++p;
      if (p < stop) {
        if (*p != ',') { count = 99; break; }
        ++p;
        if (p == stop) { count = 99; break; }
      }
    }
    if (count != 4)
      throw invalid_argument("box " + std::to_string(number) + " '" + item +
                             "' must be 4 finite numbers x0,y0,x1,y1 separated by commas");
    out.push_back({v[0], v[1], v[2], v[3]});
  }
  return out;
}

/// Throws vdiv::invalid_argument naming the first box (1-based) that is degenerate or lies
/// outside the width x height image.
inline void check_boxes(const std::vector<box>& boxes, std::int32_t width, std::int32_t height) {
  for (std::size_t i = 0; i < boxes.size(); ++i) {
    const box& b = boxes[i];
    const std::string name = "box " + std::to_string(i + 1) + " (" + std::to_string(b.x0) + "," +
                             std::to_string(b.y0) + "," + std::to_string(b.x1) + "," +
                             std::to_string(b.y1) + ")";
    if (!(b.x1 > b.x0 && b.y1 > b.y0))
      throw invalid_argument(name + " is degenerate: need x0 < x1 and y0 < y1");
    if (b.x0 < 0 || b.y0 < 0 || b.x1 > float(width) || b.y1 > float(height))
      throw invalid_argument(name + " lies outside the " + std::to_string(width) + "x" +
                             std::to_string(height) + " image");
  }
}

}  // namespace vdiv
