// Owner of the precompiled LibTorch header shared by the examples and their tests.
#include <torch/torch.h>
