// NucleusSampler's row kernels for AVX2+FMA CPUs (8 lanes); built with -mavx2 -mfma and only
// called after a CPU check (row_kernels()).
#define TM_ROWS_NAMESPACE rows_avx2
#define TM_ROWS_LANES 8
#define TM_ROWS_NAME "avx2"
#include "nucleus_rows.inc"
