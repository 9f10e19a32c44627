# Runs one command line and checks its exit status and output.
#   cmake -DCOMMAND="prog|arg|..." -DEXPECT_EXIT=N [-DEXPECT_OUTPUT=regex] [-DREJECT_OUTPUT=regex]
#         [-DEXPECT_ABSENT=path] -P expect_cli.cmake
string(REPLACE "|" ";" COMMAND "${COMMAND}")
execute_process(COMMAND ${COMMAND} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(all "${out}${err}")
if(NOT "${status}" STREQUAL "${EXPECT_EXIT}")
  message(FATAL_ERROR "exit status ${status}, expected ${EXPECT_EXIT}\n--- output ---\n${all}")
endif()
if(DEFINED EXPECT_OUTPUT AND NOT all MATCHES "${EXPECT_OUTPUT}")
  message(FATAL_ERROR "output does not match '${EXPECT_OUTPUT}'\n--- output ---\n${all}")
endif()
if(DEFINED REJECT_OUTPUT AND all MATCHES "${REJECT_OUTPUT}")
  message(FATAL_ERROR "output matches '${REJECT_OUTPUT}'\n--- output ---\n${all}")
endif()
if(DEFINED EXPECT_ABSENT AND EXISTS "${EXPECT_ABSENT}")
  message(FATAL_ERROR "${EXPECT_ABSENT} exists but must not")
endif()
