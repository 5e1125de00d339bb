// Tests for vdiv/io/npy.hpp: the strict .npy reader behind `vdiv ot`.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vdiv/io/npy.hpp>
#include <vector>

namespace io = vdiv::io;

namespace {

// A .npy file as numpy.save writes it: magic, version 1.0, header padded to 64 bytes, data.
std::vector<std::uint8_t> npy(const std::string& dict, const std::vector<float>& values,
                              int major = 1) {
  std::string header = dict;
  const std::size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::vector<std::uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', std::uint8_t(major), 0};
  const std::size_t n = header.size();
  out.push_back(std::uint8_t(n & 0xff));
  out.push_back(std::uint8_t(n >> 8));
  if (major != 1) {
    out.push_back(0);
    out.push_back(0);
  }
  out.insert(out.end(), header.begin(), header.end());
  const auto* p = reinterpret_cast<const std::uint8_t*>(values.data());
  out.insert(out.end(), p, p + values.size() * sizeof(float));
  return out;
}

std::string error_of(const std::vector<std::uint8_t>& bytes) {
  try {
    (void)io::parse_npy_f32(bytes, "f.npy");
  } catch (const vdiv::io_error& e) {
    return e.what();
  }
  return "";
}

std::vector<float> iota(std::size_t n) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = float(i);
  return v;
}

}  // namespace

TEST_CASE("npy: a float32 file in C and Fortran order, header versions 1 and 2") {
  const auto c = io::parse_npy_f32(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", iota(6)), "c");
  CHECK(c.shape == std::vector<std::int64_t>{2, 3});
  CHECK(c.data == iota(6));
  // Fortran order stores columns first: [[0, 2, 4], [1, 3, 5]] in C order.
  const auto f = io::parse_npy_f32(npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", iota(6)), "f");
  CHECK(f.data == std::vector<float>{0, 2, 4, 1, 3, 5});
  const auto f3 = io::parse_npy_f32(npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2, 2), }", iota(8)), "f3");
  CHECK(f3.data == std::vector<float>{0, 4, 2, 6, 1, 5, 3, 7});
  const auto v2 = io::parse_npy_f32(npy("{\"descr\": \"<f4\", \"shape\": (4,), \"fortran_order\": False}", iota(4), 2), "v2");
  CHECK(v2.shape == std::vector<std::int64_t>{4});
  const auto empty = io::parse_npy_f32(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 64), }", {}), "e");
  CHECK(empty.data.empty());
}

TEST_CASE("npy: a truncated file is an error, not a partly uninitialised array") {
  auto bytes = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (13, 64), }", iota(13 * 64));
  bytes.resize(bytes.size() - 4);
  const auto e = error_of(bytes);
  CHECK(e.find("f.npy") != std::string::npos);
  CHECK(e.find("truncated") != std::string::npos);
  CHECK(e.find("(13, 64)") != std::string::npos);
  bytes.resize(bytes.size() - 1000);
  CHECK(error_of(bytes).find("truncated") != std::string::npos);
  auto longer = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", iota(5));
  CHECK(error_of(longer).find("trailing bytes") != std::string::npos);
}

TEST_CASE("npy: a huge declared shape is refused before any allocation") {
  for (const char* shape : {"(4611686018427387905, 8)", "(9223372036854775807, 9223372036854775807)",
                            "(1000000, 1000000, 1000000)"}) {
    CAPTURE(shape);
    const auto e = error_of(npy(std::string("{'descr': '<f4', 'fortran_order': False, 'shape': ") +
                                    shape + ", }", iota(4)));
    CHECK(e.find("truncated") != std::string::npos);
  }
  CHECK(error_of(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 1), }", {}))
            .find("overflows") != std::string::npos);
}

TEST_CASE("npy: bad headers and dtypes name the problem") {
  CHECK(error_of({'h', 'e', 'l', 'l', 'o'}).find("not a .npy file") != std::string::npos);
  CHECK(error_of(npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", iota(2)))
            .find("expected float32") != std::string::npos);
  CHECK(error_of(npy("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", iota(1)))
            .find("little-endian") != std::string::npos);
  CHECK(error_of(npy("{'descr': '<f4', 'shape': (1,), }", iota(1))).find("lacks") != std::string::npos);
  CHECK(error_of(npy("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }", iota(1)))
            .find("True or False") != std::string::npos);
  CHECK(error_of(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", iota(1)))
            .find("non-negative") != std::string::npos);
  auto cut_header = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", iota(1));
  cut_header.resize(30);
  CHECK(error_of(cut_header).find("truncated inside the .npy header") != std::string::npos);
  auto version = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", iota(1));
  version[6] = 9;
  CHECK(error_of(version).find("version 9") != std::string::npos);
}
