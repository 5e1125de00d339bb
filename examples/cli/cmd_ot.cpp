// `vdiv ot`: EMD similarity between patch features stored as .npy files.
//
//   vdiv ot --x X.npy --y Y.npy [--weights uniform|cross_reference]
//           [--solver sinkhorn|sinkhorn_log|exact] [--reg R] [--iters T] [--tol E]
//           [--plan] [--device cpu|cuda] [--threads K]
//
// X: (N, D) or (B, N, D) float32; Y: (M, D) or (B, M, D) float32. Prints one JSON object
// {"similarity":[s_0,...],"plan":[[[...]]],"sinkhorn_log_fallbacks":k,"exact_pivot_limit":p}
// ("plan" only with --plan, B x N x M). k counts items whose Sinkhorn scaling under- or
// overflowed and were solved in the log domain (also a warning on stderr); p counts exact
// items that hit the pivot limit.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>
#include <vdiv/core/error.hpp>
#include <vdiv/io/npy.hpp>
#include <vdiv/ot/similarity.hpp>
#include <vdiv/ot/solvers.hpp>

#include "command.hpp"

#if defined(VDIV_CLI_WITH_CUDA)
namespace vdiv::cli {
// Defined in cmd_ot_cuda.cu: runs the CUDA backend on host arrays (copies in and out).
std::vector<float> ot_similarity_cuda(const feature_batch<float>& x, const feature_batch<float>& y,
                                      const emd_options& o, ot_report& report);
}  // namespace vdiv::cli
#endif

namespace {

/// A .npy feature array, checked by the strict reader (vdiv/io/npy.hpp).
struct feature_array {
  vdiv::io::npy_array array;
  vdiv::feature_batch<float> view() const {
    const auto& s = array.shape;
    return s.size() == 2 ? vdiv::features(array.data.data(), s[0], s[1])
                         : vdiv::features(array.data.data(), s[0], s[1], s[2]);
  }
};

feature_array load_features(const std::string& path, const char* which) {
  feature_array a;
  try {
    a.array = vdiv::io::read_npy_f32(path);
  } catch (const vdiv::error& e) {
    throw vdiv::io_error(std::string("--") + which + ": " + e.what());
  }
  const auto rank = a.array.shape.size();
  if (rank != 2 && rank != 3) {
    throw vdiv::invalid_argument(std::string("--") + which + ": '" + path + "' has " +
                                 std::to_string(rank) +
                                 " dimensions, expected (N, D) or (B, N, D)");
  }
  return a;
}

void print_json(const std::vector<float>& s, const std::vector<float>* plan, std::int64_t n,
                std::int64_t m, const vdiv::ot_report& report) {
  nlohmann::ordered_json out;  // keys in the documented order
  out["similarity"] = s;  // floats: the shortest text that reads back as the same float
  if (plan) {
    auto& p = out["plan"] = nlohmann::ordered_json::array();
    for (std::size_t b = 0; b < s.size(); ++b) {
      auto& item = p.emplace_back(nlohmann::ordered_json::array());
      for (std::int64_t i = 0; i < n; ++i) {
        const auto row = plan->begin() + static_cast<std::ptrdiff_t>((static_cast<std::int64_t>(b) * n + i) * m);
        item.push_back(std::vector<float>(row, row + m));
      }
    }
  }
  out["sinkhorn_log_fallbacks"] = report.sinkhorn_log_fallbacks;
  out["exact_pivot_limit"] = report.exact_pivot_limit;
  const std::string text = out.dump() + "\n";
  if (std::fputs(text.c_str(), stdout) == EOF) throw vdiv::io_error("cannot write to standard output");
}

/// The registry's solver names (vdiv/ot/solvers.hpp), for CLI11's member check.
std::vector<std::string> solver_name_list() {
  std::vector<std::string> names;
  for (const auto& s : vdiv::solver_table) names.emplace_back(s.name);
  return names;
}

struct ot_args {
  std::string x, y, weights = "uniform", solver = "sinkhorn", device = "cpu";
  double reg = 0.05, tol = 0.0;
  int iters = 10, threads = 1;
  bool plan = false;
};

void run_ot(const ot_args& a) {
  const auto x = load_features(a.x, "x");
  const auto y = load_features(a.y, "y");
  if (x.array.shape.size() != y.array.shape.size()) {
    throw vdiv::invalid_argument("--x has " + std::to_string(x.array.shape.size()) +
                                 " dimensions but --y has " + std::to_string(y.array.shape.size()) +
                                 "; both must be (N, D) or both (B, N, D)");
  }
  const auto xv = x.view();
  const auto yv = y.view();
  if (xv.batch != yv.batch) {
    throw vdiv::invalid_argument("--x has batch " + std::to_string(xv.batch) + " but --y has batch " +
                                 std::to_string(yv.batch));
  }
  if (xv.dim != yv.dim) {
    throw vdiv::invalid_argument("--x has feature dimension " + std::to_string(xv.dim) +
                                 " but --y has " + std::to_string(yv.dim));
  }
  static const std::map<std::string, vdiv::marginal_kind> weights{
      {"uniform", vdiv::marginal_kind::uniform}, {"cross_reference", vdiv::marginal_kind::cross_reference}};
  const vdiv::emd_options o{.weights = weights.at(a.weights),
                            .solver = vdiv::parse_solver(a.solver),
                            .reg = a.reg,
                            .iters = a.iters,
                            .tol = a.tol};
  std::vector<float> s;
  std::vector<float> plan;
  vdiv::ot_report report;
  if (a.device == "cuda") {
#if defined(VDIV_CLI_WITH_CUDA)
    if (a.plan) throw vdiv::invalid_argument("--plan is only available with --device cpu");
    s = vdiv::cli::ot_similarity_cuda(xv, yv, o, report);
#else
    throw vdiv::invalid_argument(
        "--device cuda: this vdiv was built without CUDA; rebuild with nvcc available "
        "(-DVDIV_CUDA=ON) or use --device cpu");
#endif
  } else {
    vdiv::ot_buffers<float> buf;
    buf.report = &report;
    if (a.plan) {
      plan.resize(static_cast<std::size_t>(xv.batch * xv.rows * yv.rows));
      buf.plan = {plan.data(), xv.batch, xv.rows, yv.rows};
    }
    s = vdiv::similarity(vdiv::cpu{.threads = a.threads}, xv, yv, o, buf);
  }
  if (report.sinkhorn_log_fallbacks > 0) {
    std::fprintf(stderr,
                 "vdiv ot: warning: Sinkhorn's scaling under- or overflowed in float32 for %lld of "
                 "%lld items at --reg %g; they were solved in the log domain (as --solver "
                 "sinkhorn_log). Pass --solver sinkhorn_log or a larger --reg.\n",
                 static_cast<long long>(report.sinkhorn_log_fallbacks),
                 static_cast<long long>(xv.batch), a.reg);
  }
  if (report.exact_pivot_limit > 0) {
    std::fprintf(stderr,
                 "vdiv ot: warning: the exact solver hit its pivot limit for %lld items: their "
                 "plans are feasible but may not be optimal.\n",
                 static_cast<long long>(report.exact_pivot_limit));
  }
  print_json(s, a.plan ? &plan : nullptr, xv.rows, yv.rows, report);
}

vdiv::cli::register_command reg_ot{"ot", [](CLI::App& app) {
  auto args = std::make_shared<ot_args>();
  auto* sub = app.add_subcommand("ot", "EMD similarity S = <P, 1 - C> between patch features (.npy)");
  sub->add_option("--x", args->x, "features of view 1: .npy float32, (N, D) or (B, N, D)")->required();
  sub->add_option("--y", args->y, "features of view 2: .npy float32, (M, D) or (B, M, D)")->required();
  sub->add_option("--weights", args->weights, "marginals")
      ->check(CLI::IsMember({"uniform", "cross_reference"}));
  sub->add_option("--solver", args->solver, "OT solver")
      ->check(CLI::IsMember(solver_name_list()));  // the registry's names
  sub->add_option("--reg", args->reg, "entropic regularisation (Sinkhorn)")
      ->check(vdiv::cli::number_in(0, INFINITY, /*lo_open=*/true));
  sub->add_option("--iters", args->iters, "Sinkhorn iterations")->check(vdiv::cli::number_in(1));
  sub->add_option("--tol", args->tol, "Sinkhorn marginal tolerance (0: run all iterations)")
      ->check(vdiv::cli::number_in(0));
  sub->add_flag("--plan", args->plan, "also print the transport plans (B x N x M)");
  sub->add_option("--device", args->device, "backend")->check(CLI::IsMember({"cpu", "cuda"}));
  sub->add_option("--threads", args->threads, "CPU threads (results do not depend on it)")
      ->check(vdiv::cli::number_in(1));
  sub->callback([args] { run_ot(*args); });
}};

}  // namespace
