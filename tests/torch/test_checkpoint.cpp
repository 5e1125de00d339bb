// Checkpoint round trip of include/vdiv/torch/checkpoint.hpp with the MoCo-v2 model.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <vdiv/torch/checkpoint.hpp>

#include "moco.hpp"
#include "test_seed.hpp"
#include "tiny_moco.hpp"

namespace vt = vdiv::train;

namespace {
std::vector<torch::Tensor> state_of(vt::moco_model& m) {
  std::vector<torch::Tensor> all;
  for (auto* enc : {&m.query, &m.key}) {
    for (auto& p : (*enc)->parameters()) all.push_back(p);
    for (auto& b : (*enc)->buffers()) all.push_back(b);
  }
  all.push_back(m.queue.keys);
  return all;
}
torch::Tensor momentum_of(torch::optim::SGD& opt, const torch::Tensor& p) {
  auto& st = opt.state().at(c10::guts::to_string(p.unsafeGetTensorImpl()));
  return static_cast<torch::optim::SGDParamState&>(*st).momentum_buffer();
}
}  // namespace

TEST_CASE("MoCo checkpoint round trip is bit-identical, and training continues identically") {
  const auto dir = std::filesystem::temp_directory_path() / ("vdiv_ckpt_" + std::to_string(vdiv::test::seed()));
  std::filesystem::remove_all(dir);
  torch::manual_seed(vdiv::test::seed());
  vt::moco_model a(vdiv::test::tiny_moco());
  torch::optim::SGD opt_a(a.query->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9).weight_decay(1e-4));
  vdiv::test::moco_step(a, opt_a, 0);
  vdiv::test::moco_step(a, opt_a, 1);
  torch::serialize::OutputArchive out;
  a.save(out);
  vt::write_optimizer(out, "optimizer", opt_a);
  vt::write_int(out, "next_epoch", 7);
  vt::save_atomic(out, dir / "checkpoint.pt");
  CHECK(std::filesystem::exists(dir / "checkpoint.pt"));
  CHECK_FALSE(std::filesystem::exists(dir / "checkpoint.pt.tmp"));

  torch::manual_seed(vdiv::test::seed() + 99);  // different initial weights
  vt::moco_model b(vdiv::test::tiny_moco());
  torch::optim::SGD opt_b(b.query->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9).weight_decay(1e-4));
  auto in = vt::load_archive(dir / "checkpoint.pt");
  b.load(in);
  vt::read_optimizer(in, "optimizer", opt_b);
  CHECK(vt::read_int(in, "next_epoch") == 7);
  CHECK_THROWS_AS(vt::read_int(in, "missing_key"), vdiv::io_error);

  const auto sa = state_of(a), sb = state_of(b);
  REQUIRE(sa.size() == sb.size());
  for (std::size_t i = 0; i < sa.size(); ++i) CHECK(torch::equal(sa[i], sb[i]));
  CHECK(a.queue.ptr == b.queue.ptr);
  const auto pa = a.query->parameters(), pb = b.query->parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) CHECK(torch::equal(momentum_of(opt_a, pa[i]), momentum_of(opt_b, pb[i])));

  vdiv::test::moco_step(a, opt_a, 2);
  vdiv::test::moco_step(b, opt_b, 2);
  const auto ta = state_of(a), tb = state_of(b);
  for (std::size_t i = 0; i < ta.size(); ++i) CHECK(torch::equal(ta[i], tb[i]));

  // Another architecture is refused with a clear error.
  auto other = vdiv::test::tiny_moco();
  other.backbone.width = 16;
  vt::moco_model c(other);
  auto in2 = vt::load_archive(dir / "checkpoint.pt");
  CHECK_THROWS_AS(c.load(in2), vdiv::io_error);
  CHECK_THROWS_AS(vt::load_archive(dir / "nope.pt"), vdiv::io_error);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a damaged or unchecked checkpoint is refused, naming the file") {
  const auto dir = std::filesystem::temp_directory_path() / ("vdiv_ckpt_crc_" + std::to_string(vdiv::test::seed()));
  std::filesystem::remove_all(dir);
  torch::manual_seed(vdiv::test::seed());
  vt::moco_model a(vdiv::test::tiny_moco());
  torch::serialize::OutputArchive out;
  a.save(out);
  vt::write_string(out, "run_settings", "--views coco:zero_overlap\n--lr 0.1\n");
  const auto file = dir / "checkpoint.pt";
  vt::save_atomic(out, file);
  auto in = vt::load_archive(file);
  CHECK(vt::read_string(in, "run_settings") == "--views coco:zero_overlap\n--lr 0.1\n");
  CHECK_THROWS_AS(vt::read_string(in, "depth"), vdiv::io_error);  // an int, not a string
  for (const auto& name : std::filesystem::directory_iterator(dir))
    CHECK(name.path().filename() == "checkpoint.pt");  // no temporary file left behind

  // 4,000 bytes flipped in the middle of the file: the weights would load, the CRC-32 refuses.
  std::string bytes;
  {
    std::ifstream f(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  auto damaged = bytes;
  for (std::size_t i = damaged.size() / 2 - 2000; i < damaged.size() / 2 + 2000; ++i) damaged[i] ^= 0x5A;
  std::ofstream(file, std::ios::binary) << damaged;
  CHECK_THROWS_WITH_AS(vt::load_archive(file), doctest::Contains("checkpoint.pt is corrupt"),
                       vdiv::io_error);
  // A plain archive (no checksum) is refused too.
  torch::serialize::OutputArchive plain;
  a.save(plain);
  plain.save_to(file.string());
  CHECK_THROWS_WITH_AS(vt::load_archive(file), doctest::Contains("no checksum"), vdiv::io_error);
  std::filesystem::remove_all(dir);
}
