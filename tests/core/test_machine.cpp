#include <doctest/doctest.h>

#include <string>
#include <vdiv/core/machine.hpp>

TEST_CASE("BLAS libraries are named by the file that is loaded") {
  // Debian's alternatives: the same libblas.so.3 link resolves to either of these.
  const auto ref = vdiv::machine::describe_blas("/usr/lib/x86_64-linux-gnu/blas/libblas.so.3");
  CHECK_FALSE(ref.optimised);
  CHECK(ref.name.find("netlib reference BLAS") == 0);
  CHECK(ref.name.find("libopenblas0-openmp") != std::string::npos);  // says what to install
  const auto ob = vdiv::machine::describe_blas("/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0");
  CHECK(ob.optimised);
  CHECK(ob.name.find("OpenBLAS") == 0);
  CHECK(vdiv::machine::describe_blas("/opt/intel/lib/libmkl_rt.so.2").optimised);
  const auto none = vdiv::machine::describe_blas("");
  CHECK_FALSE(none.loaded);
  CHECK(none.name == "none loaded");
}

TEST_CASE("the runtime line names BLAS, torch threads when given, OpenMP and the CPU") {
  const std::string line = vdiv::machine::runtime_line(3);
  CHECK(line.rfind("runtime: BLAS ", 0) == 0);
  CHECK(line.find("; torch intra-op threads 3;") != std::string::npos);
  CHECK(line.find("; OpenMP threads ") != std::string::npos);
  CHECK(line.find("; CPU ") != std::string::npos);
  CHECK(vdiv::machine::runtime_line().find("torch") == std::string::npos);
  CHECK(vdiv::machine::usable_cores() >= 1);
}

TEST_CASE("sgemm_gflops measures OpenBLAS when it is installed, else reports 0") {
  const double g = vdiv::machine::sgemm_gflops(64, 64, 64, 1, 0.01);
  if (vdiv::machine::openblas()) {
    CHECK(g > 0.0);
  } else {
    CHECK(g == 0.0);
  }
}
