# cmake -P script: runs the plain and the FMA-contracting builds of fma_probe and requires the
# same output (exp/log bits and crops of every config). Skips (exit 0 with a note) on a CPU
# without FMA, where the FMA build cannot run.
if(EXISTS /proc/cpuinfo)
  file(READ /proc/cpuinfo cpuinfo)
  if(NOT cpuinfo MATCHES "[ \t]fma[ \t\n]")
    message(STATUS "skipped: this CPU has no FMA")
    return()
  endif()
endif()
execute_process(COMMAND ${PLAIN} RESULT_VARIABLE rc1 OUTPUT_VARIABLE plain)
execute_process(COMMAND ${FMA} RESULT_VARIABLE rc2 OUTPUT_VARIABLE fma)
if(NOT rc1 EQUAL 0 OR NOT rc2 EQUAL 0)
  message(FATAL_ERROR "fma_probe failed (plain ${rc1}, fma ${rc2})")
endif()
if(NOT plain STREQUAL fma)
  message(FATAL_ERROR "FMA contraction changed vdiv::math or the crops:\nplain:\n${plain}\nfma:\n${fma}")
endif()
message(STATUS "plain and FMA-contracting builds agree:\n${plain}")
