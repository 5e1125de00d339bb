// The program's one instantiation of the OT engine and its tensor adapters.
#include <vdiv/torch/instantiate.hpp>
