// Preprocessed by the sampling_cuda_needs_relaxed_constexpr test without the flag: must fail.
#include <vdiv/sampling/pair_sampler.cuh>
