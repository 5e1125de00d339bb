// The one TU of test_ot_extern_templates that instantiates the CPU engine.
#include <vdiv/ot/instantiate.hpp>
