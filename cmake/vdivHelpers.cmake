# Helpers for vdiv's own tests, benches and examples (not installed).

# Warnings we hold our own code to; never added to the vdiv::vdiv interface target.
function(vdiv_set_warnings target)
  get_target_property(_type ${target} TYPE)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion -Wno-missing-field-initializers>)
  # g++ 12.2's AVX-512 intrinsics initialise a value from itself (`__Y = __Y`), which its own
  # -W(maybe-)uninitialized flags in Eigen's packet code under -march=native (GCC bug 105593,
  # fixed in 12.3): silenced for those compilers only; the clang build keeps checking it.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 12.3)
    target_compile_options(${target} PRIVATE
      $<$<COMPILE_LANGUAGE:CXX>:-Wno-maybe-uninitialized -Wno-uninitialized>)
  endif()
endfunction()

# Host doctest test: vdiv_add_test(NAME SOURCES a.cpp b.cpp [LIBS ...] [LABELS ...])
function(vdiv_add_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE vdiv::vdiv vdiv_doctest_main ${T_LIBS})
  vdiv_set_warnings(${name})
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS "cpu;${T_LABELS}")
endfunction()

# CUDA doctest test, labelled gpu; exits 77 (ctest SKIP) when no CUDA device is present.
function(vdiv_add_cuda_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT VDIV_HAS_CUDA)
    return()
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE vdiv::vdiv vdiv_doctest_cuda_main CUDA::cudart ${T_LIBS})
  # (--expt-relaxed-constexpr comes from vdiv::vdiv)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS "gpu;${T_LABELS}" SKIP_RETURN_CODE 77)
endfunction()
