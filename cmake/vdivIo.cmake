# vdiv::io: the optional dataset / image I/O integration headers (include/vdiv/io/).
# Defined only when its dependencies are found; users include <vdiv/io/...> explicitly.
#   libjpeg-turbo (TurboJPEG API)  JPEG decode/encode
#   libpng (simplified API)        PNG decode/encode
#   zlib                           gzipped IDX files (Fashion-MNIST)
#   simdjson                       COCO / pseudo-box JSON parsing (the fast path)
#   nlohmann_json                  only to locate syntax errors (byte, line, column) in a
#                                  malformed JSON file, which simdjson does not report
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
  if(VDIV_INSTALL)
    install(TARGETS vdiv_io EXPORT vdivTargets)
  endif()
endif()
message(STATUS "vdiv: I/O target vdiv::io ${VDIV_HAS_IO}")
