// NucleusSampler's row kernels for any CPU (4 lanes: SSE2 on x86-64).
#define TM_ROWS_NAMESPACE rows_generic
#define TM_ROWS_LANES 4
#define TM_ROWS_NAME "generic"
#include "nucleus_rows.inc"
