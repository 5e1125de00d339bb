// CUDA benchmark of the fused similarity kernel: B pairs of N x D fp32 features (default
// B = 65536, N = 13, D = 2048: 13.96 GB read once), Sinkhorn T = 10, reg = 0.05.
// Reports the median kernel time, the achieved bandwidth and its fraction of the HBM peak
// (from the device's memory clock and bus width; override with --peak-gbps).
//   bench_ot_cuda [--batch B] [--rows N] [--dim D] [--reps R] [--weights uniform|cross_reference]
//                 [--solver sinkhorn|sinkhorn_log] [--peak-gbps G]
// STATUS: compiled, not yet run on hardware.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vdiv/ot/cuda/similarity.cuh>
#include <vector>

namespace {
__global__ void fill_features(float* p, std::size_t count, unsigned seed) {
  for (std::size_t k = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; k < count;
       k += std::size_t(gridDim.x) * blockDim.x) {
    unsigned h = static_cast<unsigned>(k) * 2654435761u ^ seed;
    h ^= h >> 15;
    h *= 2246822519u;
    h ^= h >> 13;
    const float u = (h & 0xFFFFFF) / float(1 << 24);
    p[k] = u > 0.5f ? (u - 0.5f) * 4.f : 0.01f;  // sparse-ish, non-negative, no zero rows
  }
}

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}
}  // namespace

int main(int argc, char** argv) {
  long B = 65536, N = 13, D = 2048;
  int reps = 10;
  double peak_gbps = 0;
  vdiv::emd_options o{};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--batch") B = std::atol(v.c_str());
    else if (k == "--rows") N = std::atol(v.c_str());
    else if (k == "--dim") D = std::atol(v.c_str());
    else if (k == "--reps") reps = std::atoi(v.c_str());
    else if (k == "--peak-gbps") peak_gbps = std::atof(v.c_str());
    else if (k == "--weights") o.weights = v == "cross_reference" ? vdiv::marginal_kind::cross_reference : vdiv::marginal_kind::uniform;
    else if (k == "--solver") o.solver = v == "sinkhorn_log" ? vdiv::solver_kind::sinkhorn_log : vdiv::solver_kind::sinkhorn;
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  int dev = 0;
  if (cudaGetDeviceCount(&dev) != cudaSuccess || dev == 0) {
    std::fprintf(stderr, "no CUDA device\n");
    return 77;
  }
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, 0), "properties");
  if (peak_gbps <= 0) {
    int clock_khz = 0, bus_bits = 0;
    cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, 0);
    cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, 0);
    peak_gbps = 2.0 * clock_khz * 1e3 * (bus_bits / 8.0) / 1e9;  // DDR
  }
  const std::size_t count = std::size_t(B) * N * D;
  const double bytes = 2.0 * count * sizeof(float);
  float *x = nullptr, *y = nullptr, *out = nullptr;
  check(cudaMalloc(&x, count * sizeof(float)), "malloc x");
  check(cudaMalloc(&y, count * sizeof(float)), "malloc y");
  check(cudaMalloc(&out, B * sizeof(float)), "malloc out");
  fill_features<<<4096, 256>>>(x, count, 1u);
  fill_features<<<4096, 256>>>(y, count, 2u);
  check(cudaDeviceSynchronize(), "fill");
  const auto xv = vdiv::features<float>(x, B, N, D);
  const auto yv = vdiv::features<float>(y, B, N, D);
  vdiv::similarity(vdiv::cuda{}, xv, yv, out, o);  // warm-up (and validation)
  cudaEvent_t t0, t1;
  cudaEventCreate(&t0);
  cudaEventCreate(&t1);
  std::vector<float> ms;
  for (int r = 0; r < reps; ++r) {
    cudaEventRecord(t0);
    vdiv::similarity(vdiv::cuda{}, xv, yv, out, o);  // includes one stream sync for error report
    cudaEventRecord(t1);
    cudaEventSynchronize(t1);
    float m = 0;
    cudaEventElapsedTime(&m, t0, t1);
    ms.push_back(m);
  }
  std::sort(ms.begin(), ms.end());
  const double med = ms[ms.size() / 2];
  const double gbps = bytes / (med * 1e-3) / 1e9;
  std::vector<float> host(std::min<long>(B, 4));
  cudaMemcpy(host.data(), out, host.size() * sizeof(float), cudaMemcpyDeviceToHost);
  std::printf("device: %s (%d SMs), peak HBM %.0f GB/s\n", prop.name, prop.multiProcessorCount, peak_gbps);
  std::printf("B=%ld N=%ld D=%ld %s: read %.2f GB, median %.3f ms (min %.3f), %.0f GB/s = %.1f%% of peak, "
              "roofline time %.3f ms, S[0..3] = %g %g %g %g\n",
              B, N, D, o.solver == vdiv::solver_kind::sinkhorn ? "sinkhorn" : "sinkhorn_log", bytes / 1e9, med,
              ms.front(), gbps, 100.0 * gbps / peak_gbps, bytes / (peak_gbps * 1e9) * 1e3, host[0],
              host.size() > 1 ? host[1] : 0.f, host.size() > 2 ? host[2] : 0.f, host.size() > 3 ? host[3] : 0.f);
  cudaFree(x);
  cudaFree(y);
  cudaFree(out);
  return 0;
}
