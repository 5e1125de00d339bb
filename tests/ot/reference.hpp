#pragma once
// Loads tests/ot/fixtures/reference.txt (written by make_fixtures.py from POT and OpenCV).
#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vdiv/ot/similarity.hpp>

#ifndef VDIV_OT_FIXTURES
#error "VDIV_OT_FIXTURES must point at tests/ot/fixtures"
#endif

namespace vdiv::test {

inline const std::map<std::string, vdiv::row_matrix<double>>& reference() {
  static const auto table = [] {
    std::map<std::string, vdiv::row_matrix<double>> t;
    std::ifstream in(std::string(VDIV_OT_FIXTURES) + "/reference.txt");
    if (!in) throw std::runtime_error("cannot open reference.txt in " VDIV_OT_FIXTURES);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream ls(line);
      std::string name;
      long r = 0, c = 0;
      ls >> name >> r >> c;
      vdiv::row_matrix<double> m(r, c);
      for (long k = 0; k < r * c; ++k) ls >> m.data()[k];
      t.emplace(name, std::move(m));
    }
    return t;
  }();
  return table;
}

inline const vdiv::row_matrix<double>& fixture(const std::string& name) {
  const auto& t = reference();
  auto it = t.find(name);
  if (it == t.end()) throw std::runtime_error("missing fixture " + name);
  return it->second;
}

inline vdiv::column_vector<double> ref_vec(const std::string& name) {
  const auto& m = fixture(name);
  return Eigen::Map<const vdiv::column_vector<double>>(m.data(), m.size());
}

inline double ref_scalar(const std::string& name) { return fixture(name)(0, 0); }

template <class A, class B>
double max_abs_diff(const A& a, const B& b) {
  return (a.template cast<double>() - b.template cast<double>()).cwiseAbs().maxCoeff();
}

}  // namespace vdiv::test
