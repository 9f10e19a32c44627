# cmake -DAWK=<awk> -DREADME=<gdal_plugin/README.md> -DVERSION=<x.y.z> -DOUT=<gdal_TM.7>
#       -P make_plugin_man.cmake
# gdal_TM(7) from the plugin's README (md2man.awk), without its developer sections.
execute_process(
  COMMAND ${AWK} -v name=gdal_TM -v section=7 "-v" "source=tm ${VERSION}"
          "-v" "title=GDAL raster driver for TerraMind generated modalities (gdal_TM.so)"
          "-v" "see_also=tm_generate(1) tm_info(1) gdalinfo(1) gdal_translate(1)"
          "-v" "skip=^(Tests|Writing a runtime)"
          -f ${CMAKE_CURRENT_LIST_DIR}/md2man.awk ${README}
  OUTPUT_FILE ${OUT}.tmp RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "md2man.awk failed on ${README} (${rc})")
endif()
file(RENAME ${OUT}.tmp ${OUT})
