#include <doctest/doctest.h>

#include <sstream>
#include <vdiv/ot/types.hpp>

TEST_CASE("options, tags and reports are printable with designated-initialiser syntax") {
  std::ostringstream os;
  os << vdiv::emd_options{.weights = vdiv::marginal_kind::cross_reference, .solver = vdiv::solver_kind::exact,
                          .reg = 0.03};
  CHECK(os.str().find(".weights = cross_reference, .solver = exact, .reg = 0.03, .iters = 10") != std::string::npos);
  os.str("");
  os << vdiv::cpu{.threads = 4} << " " << vdiv::ot_report{.sinkhorn_numerical_stops = 2};
  CHECK(os.str() == "cpu{.threads = 4} ot_report{.sinkhorn_numerical_stops = 2, .sinkhorn_log_fallbacks = 0, .exact_pivot_limit = 0, "
                    ".sinkhorn_iterations = 0}");
}

TEST_CASE("feature views: default strides are dense row-major, item() steps by the batch stride") {
  const float data[2 * 3 * 4] = {};
  const auto v = vdiv::features(data, 2, 3, 4);
  CHECK(v.dense());
  CHECK(v.rstride() == 4);
  CHECK(v.bstride() == 12);
  CHECK(v.item(1).data == data + 12);
  CHECK(v.item(1).batch == 1);
  const vdiv::feature_batch<float> col{data, 1, 3, 4, 1, 3, 0};  // column-major 3 x 4
  CHECK_FALSE(col.dense());
  CHECK(col.rstride() == 1);
}
