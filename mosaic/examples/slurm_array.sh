#!/bin/bash
# A Slurm job array over a tm_mosaic plan: one shard per array task, any number of reruns.
#   tm_mosaic plan scenes/ --out /shared/europe_lulc --to LULC --t-srs EPSG:3035 --tr 10 10
#   sbatch --array=0-63 mosaic/examples/slurm_array.sh /shared/europe_lulc
#   sbatch --dependency=afterany:<jobid> --wrap "tm_mosaic assemble /shared/europe_lulc --cog"
# tm_mosaic reads SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_COUNT itself.
# A preempted or timed-out task costs only its tile in hand: resubmit the same array (or
# `--array=<failed ids>`) and finished tiles are skipped.
#SBATCH --job-name=tm_mosaic
#SBATCH --cpus-per-task=16
#SBATCH --mem=32G
#SBATCH --time=04:00:00
#SBATCH --requeue
#SBATCH --output=%x_%A_%a.log
set -euo pipefail
MOSAIC=${1:?usage: sbatch --array=0-N slurm_array.sh MOSAIC_DIR}
# On GPU partitions add `#SBATCH --gres=gpu:1` and plan with --device cuda.
exec tm_mosaic run "$MOSAIC" --threads "${SLURM_CPUS_PER_TASK:-0}"
