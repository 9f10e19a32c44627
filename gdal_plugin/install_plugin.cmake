# Run by cmake --install (component tm_gdal_plugin): puts gdal_TM.so and libtm_runtime.so into one
# folder (the plugin finds the runtime beside itself) and, when GDAL does not scan that folder,
# prints the GDAL_DRIVER_PATH line that makes GDAL load the driver. Set by
# gdal_plugin/CMakeLists.txt: TM_PLUGIN_FILES, TM_GDAL_PLUGIN_DIR (the cache value),
# TM_GDAL_SCANNED_PLUGIN_DIR.
set(dir "${TM_GDAL_PLUGIN_DIR}")
if(NOT "$ENV{TM_GDAL_PLUGIN_DIR}" STREQUAL "")
  set(dir "$ENV{TM_GDAL_PLUGIN_DIR}")
endif()
if(NOT IS_ABSOLUTE "${dir}")
  set(dir "${CMAKE_INSTALL_PREFIX}/${dir}")
endif()
cmake_path(NORMAL_PATH dir)
string(REGEX REPLACE "(.)/$" "\\1" dir "${dir}")
file(INSTALL DESTINATION "${dir}" TYPE MODULE FILES ${TM_PLUGIN_FILES})

set(scanned "${TM_GDAL_SCANNED_PLUGIN_DIR}")
cmake_path(NORMAL_PATH scanned)
string(REGEX REPLACE "(.)/$" "\\1" scanned "${scanned}")
if(dir STREQUAL scanned)
  set(TM_GDAL_PLUGIN_HINT "TM GDAL driver: installed into GDAL's plugin folder ${dir}; check with: "
                          "gdalinfo --format TM")
else()
  set(TM_GDAL_PLUGIN_HINT "TM GDAL driver: GDAL does not scan ${dir} (it scans ${scanned}). To use "
                          "the driver, add this to your shell profile:\n"
                          "  export GDAL_DRIVER_PATH=${dir}:${scanned}")
endif()
string(CONCAT TM_GDAL_PLUGIN_HINT ${TM_GDAL_PLUGIN_HINT})
message(STATUS "${TM_GDAL_PLUGIN_HINT}")  # repeated at the end of a full install (docs/)
