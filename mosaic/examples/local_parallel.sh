#!/bin/bash
# One machine, several workers: N shards run by xargs -P (or GNU parallel), each with a share of
# the cores. Rerun the same line after a crash or Ctrl-C: finished tiles are skipped.
#   mosaic/examples/local_parallel.sh MOSAIC_DIR [WORKERS]
set -euo pipefail
MOSAIC=${1:?usage: local_parallel.sh MOSAIC_DIR [WORKERS]}
N=${2:-4}
THREADS=$(( $(nproc) / N > 0 ? $(nproc) / N : 1 ))
seq 0 $((N - 1)) | xargs -P "$N" -I{} tm_mosaic run "$MOSAIC" --shard {} --shards "$N" --threads "$THREADS" -q
# The same with GNU parallel:
#   parallel -j "$N" tm_mosaic run "$MOSAIC" --shard {} --shards "$N" --threads "$THREADS" -q ::: $(seq 0 $((N - 1)))
tm_mosaic status "$MOSAIC" --shards "$N"
tm_mosaic assemble "$MOSAIC" --cog
