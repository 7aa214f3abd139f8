#!/usr/bin/env bash
# One synthgen shard per array task, one GPU each. synthgen reads SLURM_ARRAY_TASK_ID and
# SLURM_ARRAY_TASK_COUNT itself and writes to <out>/shards/<K>-of-<N>; re-submitting the same
# array resumes unfinished shards. Merge afterwards:
#   synthgen merge /data/synthgen/production/shards/* --out /data/synthgen/production/merged
#SBATCH --job-name=synthgen
#SBATCH --array=0-15
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=8
#SBATCH --time=24:00:00
set -euo pipefail
srun synthgen render configs/production.yaml
