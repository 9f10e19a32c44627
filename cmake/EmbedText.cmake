# cmake -DINPUT=file -DOUTPUT=file.cpp -DSYMBOL=name -P EmbedText.cmake
# Turns a text file into a C++ source defining `extern const char* const SYMBOL`.
file(READ "${INPUT}" content)
file(WRITE "${OUTPUT}.new"
  "// Generated from ${INPUT} by cmake/EmbedText.cmake. Do not edit.\n"
  "namespace terramind::embedded {\nextern const char* const ${SYMBOL};\n"
  "const char* const ${SYMBOL} = R\"tm_embed(${content})tm_embed\";\n}\n")
file(COPY_FILE "${OUTPUT}.new" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.new")
