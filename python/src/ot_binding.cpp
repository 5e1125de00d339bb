// vdiv.similarity's compiled core: features, marginals, plans and the output are DLPack tensors
// read and written in place; shapes, dtypes and devices are checked here, the features' values
// by the engine (its errors name x or y, the batch item and the row).
#include "ot_binding.hpp"

#include <pybind11/stl.h>

#include <optional>
#include <string>

#include <vdiv/core/error.hpp>
#include <vdiv/ot/similarity.hpp>

#include "dlpack_view.hpp"

namespace vdiv::python {

namespace {

namespace py = pybind11;

template <class T>
feature_batch<T> feature_view(const dl_tensor& t) {
  const bool batched = t.ndim() == 3;
  const int r = batched ? 1 : 0;
  feature_batch<T> f{t.data<T>(), batched ? t.shape(0) : 1, t.shape(r), t.shape(r + 1)};
  // zero strides of feature_batch mean "dense": give every stride explicitly
  f.row_stride = t.stride(r);
  f.col_stride = t.stride(r + 1);
  f.batch_stride = batched ? t.stride(0) : f.rows * f.row_stride;
  for (int i = 0; i < t.ndim(); ++i)
    if (t.stride(i) <= 0 && t.shape(i) > 1)
      throw vdiv::invalid_argument(t.what() + " has a zero or negative stride (a broadcast or flipped view): pass a copy");
  if (f.row_stride == 0) f.row_stride = f.dim;           // rows == 1
  if (f.batch_stride == 0) f.batch_stride = f.rows * f.row_stride;  // batch == 1
  return f;
}

template <class T>
weight_batch<T> weight_view(const dl_tensor& t, std::int64_t batch, std::int64_t size) {
  const bool batched = t.ndim() == 2;
  if (!(t.ndim() == 1 || batched) || t.shape(t.ndim() - 1) != size ||
      (batched && t.shape(0) != batch && t.shape(0) != 1))
    throw vdiv::invalid_argument(t.what() + " must have shape (" + std::to_string(size) + ",) or (" +
                                 std::to_string(batch) + ", " + std::to_string(size) + "), got " +
                                 t.shape_text());
  if (t.stride(t.ndim() - 1) != 1 || (batched && t.shape(0) > 1 && t.stride(0) != size))
    throw vdiv::invalid_argument(t.what() + " must be contiguous");
  return {t.data<T>(), batched ? t.shape(0) : 1, size};
}

marginal_kind parse_weights(const std::string& s) {
  if (s == "uniform") return marginal_kind::uniform;
  if (s == "cross_reference") return marginal_kind::cross_reference;
  if (s == "user") return marginal_kind::user;
  throw vdiv::invalid_argument("unknown weights '" + s + "': expected uniform, cross_reference or (a, b)");
}
solver_kind parse_solver(const std::string& s) {
  if (s == "sinkhorn") return solver_kind::sinkhorn;
  if (s == "sinkhorn_log") return solver_kind::sinkhorn_log;
  if (s == "exact") return solver_kind::exact;
  throw vdiv::invalid_argument("unknown solver '" + s + "': expected sinkhorn, sinkhorn_log or exact");
}

template <class T>
void run_cpu(const dl_tensor& x, const dl_tensor& y, const dl_tensor& out, const emd_options& o,
             const std::optional<dl_tensor>& a, const std::optional<dl_tensor>& b,
             const std::optional<dl_tensor>& plan, int threads, ot_report& report) {
  const feature_batch<T> fx = feature_view<T>(x), fy = feature_view<T>(y);
  ot_buffers<T> buf;
  if (a) buf.a = weight_view<T>(*a, fx.batch, fx.rows);
  if (b) buf.b = weight_view<T>(*b, fy.batch, fy.rows);
  if (plan) {
    if (plan->ndim() != 3 || plan->shape(0) != fx.batch || plan->shape(1) != fx.rows ||
        plan->shape(2) != fy.rows || plan->stride(2) != 1 || plan->stride(1) != fy.rows ||
        plan->stride(0) != fx.rows * fy.rows || !plan->on_cpu())
      throw vdiv::invalid_argument("plan must be a contiguous CPU array of shape (B, N, M)");
    buf.plan = {plan->data<T>(), fx.batch, fx.rows, fy.rows};
  }
  buf.report = &report;
  T* result = out.data<T>();
  py::gil_scoped_release release;
  similarity(cpu{threads}, fx, fy, std::span<T>(result, std::size_t(fx.batch)), o, buf);
}

py::dict similarity_impl(const py::handle& x_obj, const py::handle& y_obj, const py::handle& out_obj,
                         const std::string& weights, const py::handle& a_obj,
                         const py::handle& b_obj, const std::string& solver, double reg, int iters,
                         double tol, double cross_reference_eps, bool log_fallback,
                         const py::handle& plan_obj, int threads, std::uintptr_t stream) {
  const dl_tensor x(x_obj, "x"), y(y_obj, "y"), out(out_obj, "out");
  for (const dl_tensor* t : {&x, &y})
    if (t->ndim() != 2 && t->ndim() != 3)
      throw vdiv::invalid_argument(t->what() + " must be N x D or B x N x D features, got shape " +
                                   t->shape_text());
  if (x.ndim() != y.ndim())
    throw vdiv::invalid_argument("x " + x.shape_text() + " and y " + y.shape_text() +
                                 " must both be N x D or both B x N x D");
  const bool f32 = x.is_float(32), f64 = x.is_float(64);
  if (!(f32 || f64) || !(y.is_float(32) ? f32 : (y.is_float(64) && f64)))
    throw vdiv::invalid_argument("x and y must both be float32 or both float64, got " + x.dtype_name() +
                                 " and " + y.dtype_name());
  if (x.tensor().device.device_type != y.tensor().device.device_type || x.device_id() != y.device_id())
    throw vdiv::invalid_argument("x and y must be on the same device");
  emd_options o;
  o.weights = parse_weights(weights);
  o.solver = parse_solver(solver);
  o.reg = reg;
  o.iters = iters;
  o.tol = tol;
  o.cross_reference_eps = cross_reference_eps;
  o.log_fallback = log_fallback;
  const std::int64_t batch = x.ndim() == 3 ? x.shape(0) : 1;
  if (out.ndim() != 1 || out.shape(0) != batch || out.stride(0) != 1 ||
      !out.is_float(f32 ? 32 : 64) || out.tensor().device.device_type != x.tensor().device.device_type)
    throw vdiv::invalid_argument("out must be a contiguous 1-D array of " + std::to_string(batch) +
                                 " values of x's dtype on x's device");
  std::optional<dl_tensor> a, b, plan;
  if (!a_obj.is_none()) a.emplace(a_obj, "a");
  if (!b_obj.is_none()) b.emplace(b_obj, "b");
  if (!plan_obj.is_none()) plan.emplace(plan_obj, "plan");
  ot_report report;
  if (x.on_cuda()) {
    if (!f32) throw vdiv::invalid_argument("CUDA features must be float32 (the CUDA backend's precision)");
    if (a || b || plan)
      throw vdiv::invalid_argument("user marginals and plans run on the CPU backend: pass CPU tensors");
    const feature_batch<float> fx = feature_view<float>(x), fy = feature_view<float>(y);
    float* result = out.data<float>();
    py::gil_scoped_release release;
    similarity_cuda(fx, fy, result, o, stream, &report);
  } else if (x.on_cpu()) {
    if (f32)
      run_cpu<float>(x, y, out, o, a, b, plan, threads, report);
    else
      run_cpu<double>(x, y, out, o, a, b, plan, threads, report);
  } else {
    throw vdiv::invalid_argument("x is on a device vdiv does not support (CPU and CUDA only)");
  }
  py::dict r;
  r["sinkhorn_numerical_stops"] = report.sinkhorn_numerical_stops;
  r["sinkhorn_log_fallbacks"] = report.sinkhorn_log_fallbacks;
  r["exact_pivot_limit"] = report.exact_pivot_limit;
  r["sinkhorn_iterations"] = report.sinkhorn_iterations;
  return r;
}

}  // namespace

void bind_ot(py::module_& m) {
  m.def("_similarity", &similarity_impl, py::arg("x"), py::arg("y"), py::arg("out"),
        py::arg("weights"), py::arg("a"), py::arg("b"), py::arg("solver"), py::arg("reg"),
        py::arg("iters"), py::arg("tol"), py::arg("cross_reference_eps"), py::arg("log_fallback"),
        py::arg("plan"), py::arg("threads"), py::arg("stream"),
        "Core of vdiv.similarity (use that): writes S into `out`, returns the fallback counters.");
}

}  // namespace vdiv::python
