# cmake -DBUILD_DIR= -DPREFIX= -DTOOLS=a|b -DDOCS=rel|rel -DGDALINFO= -DGDAL_SCANNED_DIR= -DSCENE=
#       -P check_install.cmake
# Installs the build into PREFIX (the plugin into PREFIX/lib/gdalplugins via the install-time
# TM_GDAL_PLUGIN_DIR) and checks what lands where, that the install prints the GDAL_DRIVER_PATH
# line for that folder, that gdalinfo finds the driver there and the plugin its runtime, and that
# the installed tm_tokenize reads the installed cards.
cmake_minimum_required(VERSION 3.25)
string(REPLACE "|" ";" TOOLS "${TOOLS}")
string(REPLACE "|" ";" DOCS "${DOCS}")
set(plugin_dir "${PREFIX}/lib/gdalplugins")
set(failures "")
macro(fail what)
  string(APPEND failures "\n  ${what}")
endmacro()

file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND ${CMAKE_COMMAND} -E env TM_GDAL_PLUGIN_DIR=${plugin_dir} --unset=DESTDIR
                        ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${PREFIX}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${rc}):\n${out}${err}")
endif()
if(NOT "${out}${err}" MATCHES "export GDAL_DRIVER_PATH=${plugin_dir}:${GDAL_SCANNED_DIR}")
  fail("the install does not print export GDAL_DRIVER_PATH=${plugin_dir}:...:\n${out}${err}")
endif()

foreach(tool IN LISTS TOOLS)
  if(NOT EXISTS "${PREFIX}/bin/${tool}" OR IS_DIRECTORY "${PREFIX}/bin/${tool}")
    fail("missing bin/${tool}")
  endif()
endforeach()
foreach(rel share/tm/cards/terramind_v1_base.json
            share/tm/tokenizer_cards/terramind_v1_tokenizer_s2l2a.json
            share/tm/demo_model/tm_demo_v1.json share/tm/demo_model/tm_demo_v1.safetensors
            share/tm/demo_model/tokenizer_ndvi.json share/tm/demo_model/tokenizer_ndvi.safetensors
            lib/gdalplugins/gdal_TM.so lib/gdalplugins/libtm_runtime.so ${DOCS})
  if(NOT EXISTS "${PREFIX}/${rel}")
    fail("missing ${rel}")
  endif()
endforeach()
foreach(tool IN LISTS TOOLS)
  if(NOT "share/bash-completion/completions/${tool}" IN_LIST DOCS)
    fail("no bash completion installed for ${tool}")
  endif()
endforeach()
# Nothing in the old places GDAL does not scan.
if(EXISTS "${PREFIX}/lib/x86_64-linux-gnu/gdalplugins" OR EXISTS "${PREFIX}/lib64/gdalplugins")
  fail("a plugin was also installed under <prefix>/<libdir>/gdalplugins")
endif()

# GDAL finds the driver in the installed folder...
execute_process(COMMAND ${CMAKE_COMMAND} -E env GDAL_DRIVER_PATH=${plugin_dir} --unset=TM_RUNTIME
                        ${GDALINFO} --format TM
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "Short Name: TM")
  fail("GDAL_DRIVER_PATH=${plugin_dir} gdalinfo --format TM: ${rc}\n${out}${err}")
endif()
# ... and the driver the installed runtime beside it: the TerraMind runtime itself reports the
# missing model, not the loader a missing runtime.
execute_process(COMMAND ${CMAKE_COMMAND} -E env GDAL_DRIVER_PATH=${plugin_dir} --unset=TM_RUNTIME
                        ${GDALINFO}
                        "TM:target=S1GRD:model=${PREFIX}/absent_model.json:S2L2A=${SCENE}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if("${out}${err}" MATCHES "cannot load the TM model runtime" OR
   NOT "${out}${err}" MATCHES "absent_model.json")
  fail("the installed plugin does not load its installed runtime:\n${out}${err}")
endif()

# The installed tm_tokenize uses the installed tokenizer cards: it looks for the weights a card
# names beside that card, under the prefix.
execute_process(COMMAND ${PREFIX}/bin/tm_tokenize encode ${SCENE} --modality S2L2A
                        --out ${PREFIX}/tokens.tif
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT "${out}${err}" MATCHES "${PREFIX}/share/tm/tokenizer_cards/TerraMind_Tokenizer_S2L2A.pt")
  fail("installed tm_tokenize does not read the installed cards (${rc}):\n${out}${err}")
endif()

# The installed tm_generate runs the installed demo model when no --model is given.
execute_process(COMMAND ${CMAKE_COMMAND} -E env --unset=TM_DEFAULT_MODEL
                        ${PREFIX}/bin/tm_generate --input S2L2A=${SCENE} --to NDVI --greedy
                        --out-dir ${PREFIX}/generated
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT "${out}${err}" MATCHES
   "using the built-in demo model \\(${PREFIX}/share/tm/demo_model/tm_demo_v1.json\\)")
  fail("installed tm_generate without --model (${rc}):\n${out}${err}")
endif()

if(failures)
  message(FATAL_ERROR "install check failed:${failures}")
endif()
file(REMOVE_RECURSE "${PREFIX}")
message(STATUS "installed layout, GDAL driver, runtime and cards: fine")
