// The estimator's encoder-only floor: `vdiv score`'s chunks of patches (chunk pairs x 26 grid
// patches at 84 px by default) through the same TorchScript module, loaded and optimised the
// same way (vdiv::estimator::torchscript_encoder), in a tight loop on the same threads, with
// no decoding, cropping or OT beside it. `vdiv score`'s pairs/s over this is the fraction of
// the machine's encoder throughput the pipeline keeps (goal >= 90%; run_estimator_bench.sh).
//
//   bench_encoder_floor --encoder enc.pt [--chunk 8] [--patches 26] [--size 84] [--threads 2]
//                       [--seconds 20]
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include <vdiv/core/machine.hpp>
#include <vdiv/estimator/torchscript_encoder.hpp>

int main(int argc, char** argv) {
  CLI::App app{"encoder-only floor of vdiv score: pairs/s of the encoder alone"};
  std::string encoder;
  int chunk = 8, patches = 26, size = 84, threads = 0;
  double seconds = 20;
  app.add_option("--encoder", encoder, "TorchScript encoder (as vdiv score --encoder)")->required();
  app.add_option("--chunk", chunk, "pairs per encoder batch (vdiv score --chunk)")->capture_default_str();
  app.add_option("--patches", patches, "patches per pair (grid: 2 x 13, sampling: 2 x 9)")->capture_default_str();
  app.add_option("--size", size, "patch size (vdiv score's 84)")->capture_default_str();
  app.add_option("--threads", threads, "torch intra-op threads (0: all cores, as vdiv score)")->capture_default_str();
  app.add_option("--seconds", seconds, "time spent in the timed loop")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  const int nthreads = threads > 0 ? threads : vdiv::machine::usable_cores();
  torch::set_num_threads(nthreads);
  vdiv::estimator::torchscript_encoder enc(encoder, torch::kCPU);
  std::printf("%s\n", vdiv::machine::runtime_line(torch::get_num_threads()).c_str());
  // Pixels in [0, 1] as the pipeline hands them over; the values do not change the work.
  const auto input = torch::rand({std::int64_t(chunk) * patches, 3, size, size}, torch::kFloat32);
  for (int w = 0; w < 2; ++w) (void)enc.encode(input);  // oneDNN primitive caches, allocator
  std::vector<double> times;
  const auto start = std::chrono::steady_clock::now();
  double total = 0;
  while (total < seconds || times.size() < 3) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto features = enc.encode(input);
    // vdiv score copies the features into its own buffer; so does the floor.
    std::vector<float> copy(features.data_ptr<float>(), features.data_ptr<float>() + features.numel());
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[sorted.size() / 2];
  std::printf("encoder floor: %.2f pairs/s (median %.1f ms per chunk of %d pairs = %d patches of %d px, "
              "%zu chunks in %.1f s; mean %.2f pairs/s)\n",
              chunk / median, 1e3 * median, chunk, chunk * patches, size, times.size(), total,
              chunk * double(times.size()) / total);
  return 0;
}
