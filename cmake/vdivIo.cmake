# vdiv::io: the optional dataset / image I/O integration headers (include/vdiv/io/), and the
# targets built on it: vdiv::estimator, vdiv::torch.
# Defined only when its dependencies are found; users include <vdiv/io/...> explicitly.
#   libjpeg-turbo (TurboJPEG API)  JPEG decode/encode
#   libpng (simplified API)        PNG decode/encode
#   zlib                           gzipped IDX files (Fashion-MNIST)
#   simdjson                       COCO / pseudo-box JSON parsing (the fast path)
#   nlohmann_json                  JSON writing (COCO, pseudo boxes, manifests), and locating
#                                  syntax errors (byte, line, column), which simdjson does not report
set(VDIV_HAS_IO OFF)
find_package(libjpeg-turbo CONFIG QUIET)
find_package(PNG QUIET)
find_package(ZLIB QUIET)
find_package(simdjson CONFIG QUIET)
find_package(nlohmann_json CONFIG QUIET)
if(TARGET libjpeg-turbo::turbojpeg AND PNG_FOUND AND ZLIB_FOUND AND simdjson_FOUND
   AND nlohmann_json_FOUND)
  add_library(vdiv_io INTERFACE)
  add_library(vdiv::io ALIAS vdiv_io)
  set_target_properties(vdiv_io PROPERTIES EXPORT_NAME io)
  target_link_libraries(vdiv_io INTERFACE vdiv libjpeg-turbo::turbojpeg PNG::PNG ZLIB::ZLIB
                        simdjson::simdjson nlohmann_json::nlohmann_json)
  # Lets optional code (e.g. the `vdiv make-scenes` command) test for the I/O layer.
  target_compile_definitions(vdiv_io INTERFACE VDIV_HAS_IO=1)
  set(VDIV_HAS_IO ON)
  # vdiv::estimator: <vdiv/estimator/...> (score, report, checkpoint): vdiv::io and nothing
  # else; OpenCV is not needed (the PNG plot lives in the vdiv tool).
  add_library(vdiv_estimator INTERFACE)
  add_library(vdiv::estimator ALIAS vdiv_estimator)
  set_target_properties(vdiv_estimator PROPERTIES EXPORT_NAME estimator)
  target_link_libraries(vdiv_estimator INTERFACE vdiv_io)
  if(VDIV_INSTALL)
    install(TARGETS vdiv_io vdiv_estimator EXPORT vdivTargets)
  endif()
endif()
message(STATUS "vdiv: I/O target vdiv::io ${VDIV_HAS_IO}")

# vdiv::torch: <vdiv/torch/...> (crop -> tensor helpers, checkpoints, loader, OT on tensors):
# LibTorch's `torch` target (find_package(Torch) first; an installed vdiv does that for
# find_package(vdiv COMPONENTS torch)), zlib and the OT engine. Always defined: linking it is
# what needs LibTorch.
find_package(ZLIB QUIET)
if(ZLIB_FOUND)
  add_library(vdiv_torch INTERFACE)
  add_library(vdiv::torch ALIAS vdiv_torch)
  set_target_properties(vdiv_torch PROPERTIES EXPORT_NAME torch)
  target_link_libraries(vdiv_torch INTERFACE vdiv ZLIB::ZLIB torch)
  if(VDIV_INSTALL)
    install(TARGETS vdiv_torch EXPORT vdivTargets)
  endif()
endif()
