#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "test_seed.hpp"

int main(int argc, char** argv) {
  // Every randomised test derives its inputs from this seed; print it so a failure can be
  // replayed exactly (VDIV_TEST_SEED=<n> to override).
  std::printf("vdiv test seed: %llu\n", static_cast<unsigned long long>(vdiv::test::seed()));
  doctest::Context context(argc, argv);
  return context.run();
}
