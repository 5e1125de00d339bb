// Borrowing tensors from Python through DLPack: any object with __dlpack__ (numpy >= 1.22,
// torch >= 1.10, cupy, jax...) or a "dltensor" capsule. The borrow lasts for one call; the
// producer's memory is read in place (no copy) and released through its deleter afterwards.
#pragma once

#include <dlpack/dlpack.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

#include <vdiv/core/error.hpp>

namespace vdiv::python {

namespace py = pybind11;

/// A DLPack tensor borrowed from a Python object for the duration of a call.
class dl_tensor {
 public:
  /// `what` names the argument in error messages (e.g. "x").
  dl_tensor(const py::handle& obj, std::string what) : what_(std::move(what)) {
    if (PyCapsule_CheckExact(obj.ptr())) {
      capsule_ = py::reinterpret_borrow<py::object>(obj);
    } else if (py::hasattr(obj, "__dlpack__")) {
      capsule_ = obj.attr("__dlpack__")();
    } else {
      throw vdiv::invalid_argument(what_ + " must be a numpy array, a torch tensor or another "
                                           "DLPack producer (an object with __dlpack__)");
    }
    auto* t = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule_.ptr(), "dltensor"));
    if (t == nullptr) {
      PyErr_Clear();
      throw vdiv::invalid_argument(what_ + ": not an unused DLPack capsule");
    }
    PyCapsule_SetName(capsule_.ptr(), "used_dltensor");
    managed_ = t;
  }
  dl_tensor(const dl_tensor&) = delete;
  dl_tensor& operator=(const dl_tensor&) = delete;
  ~dl_tensor() {
    if (managed_ && managed_->deleter) managed_->deleter(managed_);
  }

  const DLTensor& tensor() const { return managed_->dl_tensor; }
  int ndim() const { return tensor().ndim; }
  std::int64_t shape(int i) const { return tensor().shape[i]; }
  /// Stride of dimension i in elements (compact row-major when the producer gave none).
  std::int64_t stride(int i) const {
    if (tensor().strides) return tensor().strides[i];
    std::int64_t s = 1;
    for (int k = ndim() - 1; k > i; --k) s *= shape(k);
    return s;
  }
  bool is_float(int bits) const {
    return tensor().dtype.code == kDLFloat && tensor().dtype.bits == bits && tensor().dtype.lanes == 1;
  }
  bool on_cpu() const { return tensor().device.device_type == kDLCPU; }
  bool on_cuda() const { return tensor().device.device_type == kDLCUDA; }
  int device_id() const { return tensor().device.device_id; }
  template <class T>
  T* data() const {
    return reinterpret_cast<T*>(static_cast<char*>(tensor().data) + tensor().byte_offset);
  }
  std::string dtype_name() const {
    const auto& d = tensor().dtype;
    const char* kind = d.code == kDLFloat ? "float" : d.code == kDLInt ? "int" : d.code == kDLUInt ? "uint" : "other";
    return std::string(kind) + std::to_string(d.bits);
  }
  std::string shape_text() const {
    std::string s = "(";
    for (int i = 0; i < ndim(); ++i) s += (i ? ", " : "") + std::to_string(shape(i));
    return s + (ndim() == 1 ? ",)" : ")");
  }
  const std::string& what() const { return what_; }

 private:
  std::string what_;
  py::object capsule_;
  DLManagedTensor* managed_ = nullptr;
};

}  // namespace vdiv::python
