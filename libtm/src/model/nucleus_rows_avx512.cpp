// NucleusSampler's row kernels for AVX-512 CPUs (16 lanes); built with -mavx512f/dq/vl/bw and
// -mfma and only called after a CPU check (row_kernels()).
#define TM_ROWS_NAMESPACE rows_avx512
#define TM_ROWS_LANES 16
#define TM_ROWS_NAME "avx512"
#include "nucleus_rows.inc"
