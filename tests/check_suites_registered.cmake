# Fails when a test executable has tests outside the suites registered with tm_gtest_suites()
# (tests/CMakeLists.txt), so that no suite is silently left out of CTest. Inputs: EXE, EXCLUDED
# (gtest patterns joined by ':').
execute_process(COMMAND ${EXE} --gtest_list_tests --gtest_filter=-${EXCLUDED}
                OUTPUT_VARIABLE listing RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${EXE} --gtest_list_tests failed (${status})")
endif()
# Suite lines of the listing are "<suite>." at the start of a line.
string(REGEX MATCHALL "(^|\n)[^ \n]+\\." suites "${listing}")
list(TRANSFORM suites STRIP)
if(suites)
  list(JOIN suites " " suites)
  message(FATAL_ERROR "gtest suites not registered with tm_gtest_suites(): ${suites}")
endif()
