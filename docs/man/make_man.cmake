# cmake -DTOOL=<executable> -DVERSION=<x.y.z> -DHELP2MAN=<path> -DINCLUDE=<tool.h2m> -DOUT=<tool.1>
#       -P make_man.cmake
# Man page of a tm tool from its --help: help2man runs boost_help.sh in place of the tool, which
# reshapes the Boost option table; the first --help line ("tool: summary") gives the NAME line.
get_filename_component(name "${TOOL}" NAME)
execute_process(COMMAND "${TOOL}" --help OUTPUT_VARIABLE help RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${name} --help failed (${rc})")
endif()
string(REGEX MATCH "^[^\n]*" first "${help}")
string(REGEX REPLACE "^${name}: *" "" summary "${first}")
if(summary STREQUAL first OR summary STREQUAL "")
  message(FATAL_ERROR "${name} --help does not start with \"${name}: <summary>\"")
endif()
set(ENV{TM_MAN_TOOL} "${TOOL}")
set(ENV{TM_MAN_VERSION} "${name} ${VERSION}")
execute_process(
  COMMAND "${HELP2MAN}" --no-info --section=1 --name=${summary} --manual=tm\ manual
          --source=tm\ ${VERSION} --version-string=${name}\ ${VERSION} --include=${INCLUDE}
          --output=${OUT}.tmp ${CMAKE_CURRENT_LIST_DIR}/boost_help.sh
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "help2man failed for ${name} (${rc})")
endif()
# help2man names the page after the executable it ran: the wrapper's name becomes the tool's.
file(READ "${OUT}.tmp" page)
string(REPLACE "BOOST_HELP.SH" "${name}" page "${page}")
string(REPLACE "boost_help.sh" "${name}" page "${page}")
string(TOUPPER "${name}" upper)
string(REGEX REPLACE "\\.TH [^ ]+" ".TH ${upper}" page "${page}")
file(WRITE "${OUT}" "${page}")
file(REMOVE "${OUT}.tmp")
