# cmake -DBUILD_DIR= -DDESTDIR= -DGDALINFO= -DGDAL_SCANNED_DIR= -DPLUGIN_DIR= -P ...
# The configured plugin folder (TM_GDAL_PLUGIN_DIR, left at its default) is the one GDAL scans:
# staged with DESTDIR, the plugin component lands in DESTDIR/<that folder>, the install prints no
# GDAL_DRIVER_PATH line, and gdalinfo finds the driver there.
cmake_minimum_required(VERSION 3.25)
if(NOT PLUGIN_DIR STREQUAL GDAL_SCANNED_DIR)
  message(STATUS "TM_GDAL_PLUGIN_DIR=${PLUGIN_DIR} is not the default (${GDAL_SCANNED_DIR}); "
                 "checking the configured folder")
endif()
if(NOT IS_DIRECTORY "${GDAL_SCANNED_DIR}")
  message(FATAL_ERROR "GDAL's plugin folder ${GDAL_SCANNED_DIR} (found at configure time) does "
                      "not exist")
endif()
file(REMOVE_RECURSE "${DESTDIR}")
execute_process(COMMAND ${CMAKE_COMMAND} -E env DESTDIR=${DESTDIR} --unset=TM_GDAL_PLUGIN_DIR
                        ${CMAKE_COMMAND} --install ${BUILD_DIR} --component tm_gdal_plugin
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install --component tm_gdal_plugin failed (${rc}):\n${out}${err}")
endif()
if(IS_ABSOLUTE "${PLUGIN_DIR}")
  set(staged "${DESTDIR}${PLUGIN_DIR}")
else()
  message(FATAL_ERROR "TM_GDAL_PLUGIN_DIR=${PLUGIN_DIR} is relative; the default is absolute")
endif()
foreach(f gdal_TM.so libtm_runtime.so)
  if(NOT EXISTS "${staged}/${f}")
    message(FATAL_ERROR "${f} not in ${staged}:\n${out}${err}")
  endif()
endforeach()
if(PLUGIN_DIR STREQUAL GDAL_SCANNED_DIR AND "${out}${err}" MATCHES "GDAL_DRIVER_PATH")
  message(FATAL_ERROR "installed into GDAL's own folder, yet the install asks for "
                      "GDAL_DRIVER_PATH:\n${out}${err}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -E env GDAL_DRIVER_PATH=${staged} ${GDALINFO} --format TM
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "Short Name: TM")
  message(FATAL_ERROR "GDAL_DRIVER_PATH=${staged} gdalinfo --format TM: ${rc}\n${out}${err}")
endif()
file(REMOVE_RECURSE "${DESTDIR}")
message(STATUS "plugin folder ${PLUGIN_DIR} = GDAL's (${GDAL_SCANNED_DIR}): fine")
