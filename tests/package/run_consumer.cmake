# Runs in script mode (cmake -P). Fails the test on the first step that fails.
file(REMOVE_RECURSE ${WORK_DIR})
function(step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "step failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
endfunction()
set(consumer ${CMAKE_CURRENT_LIST_DIR}/consumer)
set(options -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER} -DCMAKE_BUILD_TYPE=Release)

# 1. install vdiv alone (no tests/examples) into a prefix
step(${CMAKE_COMMAND} -S ${VDIV_SOURCE_DIR} -B ${WORK_DIR}/vdiv-build ${options}
     -DVDIV_BUILD_TESTS=OFF -DVDIV_BUILD_BENCH=OFF -DVDIV_BUILD_EXAMPLES=OFF -DVDIV_INSTALL=ON
     -DVDIV_CUDA=OFF -DCMAKE_INSTALL_PREFIX=${WORK_DIR}/prefix)
step(${CMAKE_COMMAND} --install ${WORK_DIR}/vdiv-build)

# 2. consumer via find_package
step(${CMAKE_COMMAND} -S ${consumer} -B ${WORK_DIR}/find-package ${options}
     -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCONSUMER_MODE=find_package)
step(${CMAKE_COMMAND} --build ${WORK_DIR}/find-package)
step(${WORK_DIR}/find-package/consumer)

# 3. consumer via add_subdirectory
step(${CMAKE_COMMAND} -S ${consumer} -B ${WORK_DIR}/subdirectory ${options}
     -DCONSUMER_MODE=add_subdirectory -DVDIV_SOURCE_DIR=${VDIV_SOURCE_DIR})
step(${CMAKE_COMMAND} --build ${WORK_DIR}/subdirectory)
step(${WORK_DIR}/subdirectory/consumer)

# 4. a sampler-only consumer through vdiv::core: no Eigen needed
step(${CMAKE_COMMAND} -S ${CMAKE_CURRENT_LIST_DIR}/core_consumer -B ${WORK_DIR}/core ${options}
     -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
step(${CMAKE_COMMAND} --build ${WORK_DIR}/core)
step(${WORK_DIR}/core/core_consumer)

# 5. the estimator through vdiv::estimator alone (vdiv::io's libraries, no OpenCV)
step(${CMAKE_COMMAND} -S ${CMAKE_CURRENT_LIST_DIR}/estimator_consumer -B ${WORK_DIR}/estimator ${options}
     -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
step(${CMAKE_COMMAND} --build ${WORK_DIR}/estimator)
step(${WORK_DIR}/estimator/estimator_consumer)

# 6. the LibTorch adapters through vdiv::torch, with the engine instantiated once
if(WITH_TORCH)
  step(${CMAKE_COMMAND} -S ${CMAKE_CURRENT_LIST_DIR}/torch_consumer -B ${WORK_DIR}/torch ${options}
       -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DTorch_DIR=${TORCH_DIR})
  step(${CMAKE_COMMAND} --build ${WORK_DIR}/torch)
  step(${WORK_DIR}/torch/torch_consumer)
endif()

# 7. pkg-config: vdiv-core alone, and vdiv (which pulls eigen3 in)
find_program(PKG_CONFIG pkg-config REQUIRED)
set(ENV{PKG_CONFIG_PATH} ${WORK_DIR}/prefix/share/pkgconfig)
foreach(pc vdiv-core vdiv)
  execute_process(COMMAND ${PKG_CONFIG} --cflags ${pc} RESULT_VARIABLE rc OUTPUT_VARIABLE cflags
                  ERROR_VARIABLE err OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pkg-config --cflags ${pc} failed: ${err}")
  endif()
  separate_arguments(cflags UNIX_COMMAND "${cflags}")
  set(source ${CMAKE_CURRENT_LIST_DIR}/core_consumer/main.cpp)
  if(pc STREQUAL "vdiv")
    set(source ${consumer}/main.cpp)
  endif()
  step(${CMAKE_CXX_COMPILER} ${cflags} -O1 ${source} -o ${WORK_DIR}/pc-${pc})
  step(${WORK_DIR}/pc-${pc})
endforeach()
