// The one TU of test_ot_torch_extern_templates that instantiates the engine and its tensor adapters.
#include <vdiv/torch/instantiate.hpp>
