# Shared setup of the LibTorch examples and their tests (included by each user; defines the
# targets once).
#   vdiv_torch_common  INTERFACE: examples/common headers + vdiv::torch (or vdiv + LibTorch) + vdiv::io
#   vdiv_torch_pch     a tiny static library owning the precompiled <torch/torch.h>; every
#                      torch target reuses it (a torch TU then compiles in seconds, not a minute)
if(NOT TARGET vdiv_torch_common)
  find_package(CLI11 REQUIRED)
  add_library(vdiv_torch_common INTERFACE)
  target_include_directories(vdiv_torch_common INTERFACE ${CMAKE_CURRENT_LIST_DIR})
  # vdiv::torch (vdiv, LibTorch's torch, zlib) where it exists: the trainers link what an
  # installed-package user links.
  if(TARGET vdiv::torch)
    target_link_libraries(vdiv_torch_common INTERFACE vdiv::torch ${TORCH_LIBRARIES} CLI11::CLI11)
  else()
    target_link_libraries(vdiv_torch_common INTERFACE vdiv::vdiv ${TORCH_LIBRARIES} CLI11::CLI11)
  endif()
  if(TARGET vdiv::io)
    target_link_libraries(vdiv_torch_common INTERFACE vdiv::io)
  endif()
  # NCCL data parallel (examples/common/distributed.hpp): a CUDA LibTorch (its CMake config
  # lists CUDA libraries; Debian's CPU-only one does not) and nccl.h (CUDA toolkit, or pip's
  # nvidia-nccl wheel: pass -DVDIV_NCCL_INCLUDE_DIR=.../site-packages/nvidia/nccl/include).
  set(VDIV_TORCH_CUDA OFF)
  if(TORCH_CUDA_LIBRARIES OR TARGET torch_cuda OR C10_CUDA_LIBRARY)
    set(VDIV_TORCH_CUDA ON)
  endif()
  find_path(VDIV_NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include)
  if(VDIV_TORCH_CUDA AND VDIV_NCCL_INCLUDE_DIR)
    target_compile_definitions(vdiv_torch_common INTERFACE VDIV_WITH_NCCL=1)
    target_include_directories(vdiv_torch_common SYSTEM INTERFACE ${VDIV_NCCL_INCLUDE_DIR})
    set(VDIV_TRAINERS_NCCL ON CACHE INTERNAL "")
  else()
    set(VDIV_TRAINERS_NCCL OFF CACHE INTERNAL "")
  endif()
  set(VDIV_TORCH_CUDA ${VDIV_TORCH_CUDA} CACHE INTERNAL "LibTorch was built with CUDA")
  message(STATUS "vdiv: trainers: LibTorch CUDA ${VDIV_TORCH_CUDA}, NCCL data parallel ${VDIV_TRAINERS_NCCL}")
  add_library(vdiv_torch_pch STATIC ${CMAKE_CURRENT_LIST_DIR}/pch.cpp)
  target_link_libraries(vdiv_torch_pch PUBLIC vdiv_torch_common)
  target_precompile_headers(vdiv_torch_pch PRIVATE <torch/torch.h> <torch/script.h>)
  set_target_properties(vdiv_torch_pch PROPERTIES POSITION_INDEPENDENT_CODE OFF)
endif()

# vdiv_torch_target(<target>): links the common setup and reuses the precompiled header.
function(vdiv_torch_target target)
  target_link_libraries(${target} PRIVATE vdiv_torch_common)
  target_precompile_headers(${target} REUSE_FROM vdiv_torch_pch)
  # The precompiled header is built without -pedantic; GCC refuses it for pedantic TUs
  # (vdiv_set_warnings adds -Wpedantic), so torch TUs drop that one warning.
  target_compile_options(${target} PRIVATE -Wno-pedantic)
endfunction()
