// Tests for vdiv/io/fashion_mnist.hpp: the real Debian files, and IDX validation.
#include <doctest/doctest.h>
#include <zlib.h>

#include <array>
#include <string>
#include <vdiv/io/fashion_mnist.hpp>

#include "io_test_util.hpp"

namespace io = vdiv::io;

namespace {

bool contains(const std::string& s, const std::string& needle) { return s.find(needle) != std::string::npos; }

std::vector<std::uint8_t> idx_bytes(std::uint8_t type, std::vector<std::uint32_t> dims,
                                    std::size_t payload) {
  std::vector<std::uint8_t> b = {0, 0, type, static_cast<std::uint8_t>(dims.size())};
  for (auto d : dims) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(d >> s));
  }
  for (std::size_t i = 0; i < payload; ++i) b.push_back(static_cast<std::uint8_t>(i % 10));
  return b;
}

void write_gz(const std::filesystem::path& file, const std::vector<std::uint8_t>& bytes) {
  gzFile gz = gzopen(file.c_str(), "wb");
  REQUIRE(gz != nullptr);
  REQUIRE(gzwrite(gz, bytes.data(), unsigned(bytes.size())) == int(bytes.size()));
  gzclose(gz);
}

std::string error_of(const std::filesystem::path& file) {
  try {
    (void)io::read_idx(file);
  } catch (const vdiv::io_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("Fashion-MNIST from the Debian package") {
  // A declared dependency (scripts/install-deps.sh): missing data is a broken set-up, not a pass.
  if (!io::fashion_mnist_available())
    FAIL("Fashion-MNIST not found in " << io::fashion_mnist_default_dir()
                                       << ": apt-get install dataset-fashion-mnist");
  const auto train = io::load_fashion_mnist(true);
  CHECK(train.count == 60000);
  CHECK(train.rows == 28);
  CHECK(train.cols == 28);
  REQUIRE(train.pixels.size() == 60000u * 28 * 28);
  std::array<int, 10> per_class{};
  for (auto l : train.labels) ++per_class.at(l);
  for (int c : per_class) CHECK(c == 6000);  // the dataset is balanced
  // Items are light objects on a black background: corners dark, centre mostly inked.
  long long corner = 0, centre = 0;
  for (int i = 0; i < 1000; ++i) {
    corner += train.item(i)[0];
    centre += train.item(i)[14 * 28 + 14];
  }
  CHECK(corner < 1000 * 5);
  CHECK(centre > 1000 * 60);
  const auto test = io::load_fashion_mnist(false);
  CHECK(test.count == 10000);
  CHECK(io::fashion_mnist_classes[9] == "Ankle boot");
}

TEST_CASE("IDX validation: magic, type, rank, sizes, trailing bytes; plain and gzipped") {
  vdiv::test::scratch_dir dir("io_idx");
  const auto good = idx_bytes(0x08, {3, 2, 2}, 12);
  vdiv::test::write_bytes(dir.path / "plain.idx", good);
  write_gz(dir.path / "zipped.idx.gz", good);
  for (const char* name : {"plain.idx", "zipped.idx.gz"}) {
    const auto a = io::read_idx(dir.path / name);
    CHECK(a.dims == std::vector<std::uint32_t>{3, 2, 2});
    REQUIRE(a.data.size() == 12);
    CHECK(a.data[11] == 1);
  }
  auto bad_magic = good;
  bad_magic[0] = 7;
  vdiv::test::write_bytes(dir.path / "magic.idx", bad_magic);
  CHECK(contains(error_of(dir.path / "magic.idx"), "magic.idx"));
  CHECK(contains(error_of(dir.path / "magic.idx"), "not an IDX file"));
  vdiv::test::write_bytes(dir.path / "type.idx", idx_bytes(0x0D, {2}, 8));
  CHECK(contains(error_of(dir.path / "type.idx"), "not unsigned byte"));
  vdiv::test::write_bytes(dir.path / "short.idx", idx_bytes(0x08, {3, 2, 2}, 11));
  CHECK(contains(error_of(dir.path / "short.idx"), "truncated"));
  write_gz(dir.path / "short.idx.gz", idx_bytes(0x08, {3, 2, 2}, 5));
  CHECK(contains(error_of(dir.path / "short.idx.gz"), "short.idx.gz"));
  vdiv::test::write_bytes(dir.path / "long.idx", idx_bytes(0x08, {3, 2, 2}, 13));
  CHECK(contains(error_of(dir.path / "long.idx"), "trailing bytes"));
  CHECK(contains(error_of(dir.path / "absent.idx"), "no such file"));
}

TEST_CASE("Fashion-MNIST loader: mismatched image and label files name the file") {
  vdiv::test::scratch_dir dir("io_fm_bad");
  vdiv::test::write_bytes(dir.path / "train-images-idx3-ubyte", idx_bytes(0x08, {4, 2, 2}, 16));
  write_gz(dir.path / "train-labels-idx1-ubyte.gz", idx_bytes(0x08, {3}, 3));
  try {
    (void)io::load_fashion_mnist(true, dir.path);
    FAIL("no exception");
  } catch (const vdiv::io_error& e) {
    CHECK(contains(e.what(), "train-labels-idx1-ubyte.gz"));
    CHECK(contains(e.what(), "holds 3 labels"));
  }
  CHECK_FALSE(io::fashion_mnist_available(dir.path));  // the t10k files are missing
  CHECK_THROWS_AS((void)io::load_fashion_mnist(false, dir.path), vdiv::io_error);
}

TEST_CASE("IDX: a header declaring gigabytes over a few bytes of data fails without allocating them") {
  // 65535 x 65535 = 4 GB declared; only the first 16 MB step may be allocated before the
  // data runs out (ASan's allocator would report a 4 GB request as an error).
  const auto bytes = idx_bytes(0x08, {65535, 65535}, 10);
  const auto gz_file = std::filesystem::temp_directory_path() / "vdiv_idx_huge.gz";
  write_gz(gz_file, bytes);
  for (const auto& b : {bytes, vdiv::test::read_bytes(gz_file)}) {
    try {
      (void)io::parse_idx(b, "huge.idx");
      FAIL("no exception");
    } catch (const vdiv::io_error& e) {
      CHECK(contains(e.what(), "huge.idx"));
      CHECK(contains(e.what(), "truncated"));
    }
  }
  std::filesystem::remove(gz_file);
}

TEST_CASE("IDX: gzip members concatenated are one file; garbage after the gzip data is an error") {
  const auto good = idx_bytes(0x08, {3, 2, 2}, 12);
  const auto file = std::filesystem::temp_directory_path() / "vdiv_idx_members.gz";
  write_gz(file, {good.begin(), good.begin() + 9});
  auto two = vdiv::test::read_bytes(file);
  write_gz(file, {good.begin() + 9, good.end()});
  const auto second = vdiv::test::read_bytes(file);
  two.insert(two.end(), second.begin(), second.end());
  CHECK(io::parse_idx(two, "two.gz").data.size() == 12);
  two.push_back('x');
  two.push_back('y');
  CHECK_THROWS_WITH_AS((void)io::parse_idx(two, "two.gz"), doctest::Contains("trailing bytes"),
                       vdiv::io_error);
  write_gz(file, good);
  auto corrupt = vdiv::test::read_bytes(file);
  std::filesystem::remove(file);
  corrupt[corrupt.size() - 6] ^= 0xff;  // the gzip trailer's CRC-32
  CHECK_THROWS_WITH_AS((void)io::parse_idx(corrupt, "crc.gz"), doctest::Contains("corrupt gzip"),
                       vdiv::io_error);
}
