// `vdiv ot`: EMD similarity between patch features stored as .npy files.
//
//   vdiv ot --x X.npy --y Y.npy [--weights uniform|cross_reference]
//           [--solver sinkhorn|sinkhorn_log|exact] [--reg R] [--iters T] [--tol E]
//           [--plan] [--device cpu|cuda] [--threads K]
//
// X: (N, D) or (B, N, D) float32; Y: (M, D) or (B, M, D) float32. Prints one JSON object
// {"similarity":[s_0,...],"plan":[[[...]]]} ("plan" only with --plan, B x N x M).
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>
#include <vdiv/core/error.hpp>
#include <vdiv/ot/similarity.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xnpy.hpp>

#include "command.hpp"

#if defined(VDIV_CLI_WITH_CUDA)
namespace vdiv::cli {
// Defined in cmd_ot_cuda.cu: runs the CUDA backend on host arrays (copies in and out).
std::vector<float> ot_similarity_cuda(const feature_batch<float>& x, const feature_batch<float>& y,
                                      const emd_options& o);
}  // namespace vdiv::cli
#endif

namespace {

// Reads the dtype of a .npy file from its header, so a float64 file gets a clear message
// instead of xtensor's generic one (xtensor does not convert types on load).
std::string npy_dtype(const std::string& path, const char* which) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw vdiv::io_error(std::string("--") + which + ": cannot open '" + path + "'");
  char magic[8] = {};
  in.read(magic, 8);
  if (!in || std::string(magic + 1, 5) != "NUMPY") {
    throw vdiv::io_error(std::string("--") + which + ": '" + path + "' is not a .npy file");
  }
  std::uint32_t len = 0;
  if (magic[6] == 1) {
    unsigned char b[2];
    in.read(reinterpret_cast<char*>(b), 2);
    len = b[0] | (b[1] << 8);
  } else {
    unsigned char b[4];
    in.read(reinterpret_cast<char*>(b), 4);
    len = b[0] | (b[1] << 8) | (b[2] << 16) | (std::uint32_t(b[3]) << 24);
  }
  std::string header(len, '\0');
  in.read(header.data(), len);
  const auto k = header.find("'descr':");
  if (!in || k == std::string::npos) {
    throw vdiv::io_error(std::string("--") + which + ": '" + path + "' has a malformed .npy header");
  }
  const auto q0 = header.find('\'', k + 8);
  const auto q1 = header.find('\'', q0 + 1);
  return header.substr(q0 + 1, q1 - q0 - 1);
}

xt::xarray<float> load_features(const std::string& path, const char* which) {
  const std::string dtype = npy_dtype(path, which);
  if (dtype != "<f4" && dtype != "|f4" && dtype != "=f4") {
    throw vdiv::invalid_argument(std::string("--") + which + ": '" + path + "' has dtype " + dtype +
                                 ", expected float32 (<f4); convert with arr.astype(np.float32)");
  }
  try {
    auto a = xt::load_npy<float>(path);
    if (a.dimension() != 2 && a.dimension() != 3) {
      throw vdiv::invalid_argument(std::string("--") + which + ": '" + path + "' has " +
                                   std::to_string(a.dimension()) +
                                   " dimensions, expected (N, D) or (B, N, D)");
    }
    return a;
  } catch (const vdiv::error&) {
    throw;
  } catch (const std::exception& e) {
    throw vdiv::io_error(std::string("--") + which + ": cannot read '" + path + "': " + e.what());
  }
}

void print_json(const std::vector<float>& s, const std::vector<float>* plan, std::int64_t n,
                std::int64_t m) {
  std::string out = "{\"similarity\":[";
  char buf[32];
  for (std::size_t b = 0; b < s.size(); ++b) {
    std::snprintf(buf, sizeof buf, "%s%.9g", b ? "," : "", static_cast<double>(s[b]));
    out += buf;
  }
  out += "]";
  if (plan) {
    out += ",\"plan\":[";
    for (std::size_t b = 0; b < s.size(); ++b) {
      out += b ? ",[" : "[";
      for (std::int64_t i = 0; i < n; ++i) {
        out += i ? ",[" : "[";
        for (std::int64_t j = 0; j < m; ++j) {
          std::snprintf(buf, sizeof buf, "%s%.9g", j ? "," : "",
                        static_cast<double>((*plan)[(b * n + i) * m + j]));
          out += buf;
        }
        out += "]";
      }
      out += "]";
    }
    out += "]";
  }
  out += "}\n";
  std::fputs(out.c_str(), stdout);
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
  if (x.dimension() != y.dimension()) {
    throw vdiv::invalid_argument("--x has " + std::to_string(x.dimension()) + " dimensions but --y has " +
                                 std::to_string(y.dimension()) + "; both must be (N, D) or both (B, N, D)");
  }
  const auto xv = vdiv::xtensor_features(x);
  const auto yv = vdiv::xtensor_features(y);
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
  static const std::map<std::string, vdiv::solver_kind> solvers{
      {"sinkhorn", vdiv::solver_kind::sinkhorn},
      {"sinkhorn_log", vdiv::solver_kind::sinkhorn_log},
      {"exact", vdiv::solver_kind::exact}};
  const vdiv::emd_options o{.weights = weights.at(a.weights),
                            .solver = solvers.at(a.solver),
                            .reg = a.reg,
                            .iters = a.iters,
                            .tol = a.tol};
  std::vector<float> s;
  std::vector<float> plan;
  if (a.device == "cuda") {
#if defined(VDIV_CLI_WITH_CUDA)
    if (a.plan) throw vdiv::invalid_argument("--plan is only available with --device cpu");
    // The CUDA backend reads dense row-major arrays; xtensor loads C-order .npy files that way.
    VDIV_EXPECTS(xv.dense() && yv.dense(), "--device cuda needs C-order (row-major) .npy arrays");
    s = vdiv::cli::ot_similarity_cuda(xv, yv, o);
#else
    throw vdiv::invalid_argument(
        "--device cuda: this vdiv was built without CUDA; rebuild with nvcc available "
        "(-DVDIV_CUDA=ON) or use --device cpu");
#endif
  } else {
    vdiv::ot_buffers<float> buf;
    if (a.plan) {
      plan.resize(static_cast<std::size_t>(xv.batch * xv.rows * yv.rows));
      buf.plan = {plan.data(), xv.batch, xv.rows, yv.rows};
    }
    s = vdiv::similarity(vdiv::cpu{.threads = a.threads}, xv, yv, o, buf);
  }
  print_json(s, a.plan ? &plan : nullptr, xv.rows, yv.rows);
}

vdiv::cli::register_command reg_ot{"ot", [](CLI::App& app) {
  auto args = std::make_shared<ot_args>();
  auto* sub = app.add_subcommand("ot", "EMD similarity S = <P, 1 - C> between patch features (.npy)");
  sub->add_option("--x", args->x, "features of view 1: .npy float32, (N, D) or (B, N, D)")->required();
  sub->add_option("--y", args->y, "features of view 2: .npy float32, (M, D) or (B, M, D)")->required();
  sub->add_option("--weights", args->weights, "marginals")
      ->check(CLI::IsMember({"uniform", "cross_reference"}));
  sub->add_option("--solver", args->solver, "OT solver")
      ->check(CLI::IsMember({"sinkhorn", "sinkhorn_log", "exact"}));
  sub->add_option("--reg", args->reg, "entropic regularisation (Sinkhorn)")->check(CLI::PositiveNumber);
  sub->add_option("--iters", args->iters, "Sinkhorn iterations")->check(CLI::PositiveNumber);
  sub->add_option("--tol", args->tol, "Sinkhorn marginal tolerance (0: run all iterations)")
      ->check(CLI::NonNegativeNumber);
  sub->add_flag("--plan", args->plan, "also print the transport plans (B x N x M)");
  sub->add_option("--device", args->device, "backend")->check(CLI::IsMember({"cpu", "cuda"}));
  sub->add_option("--threads", args->threads, "CPU threads (results do not depend on it)")
      ->check(CLI::PositiveNumber);
  sub->callback([args] { run_ot(*args); });
}};

}  // namespace
