#!/usr/bin/env bash
# Merge the shards of docker/cluster/slurm_array.sh once every array task has succeeded:
#   sbatch --dependency=afterok:<array job id> docker/cluster/slurm_merge.sh
#SBATCH --job-name=synthgen-merge
#SBATCH --cpus-per-task=2
#SBATCH --mem=4G
#SBATCH --time=01:00:00
#SBATCH --output=logs/synthgen-merge-%j.out
set -euo pipefail
OUT=${SYNTHGEN_OUT:-/data/synthgen/production}
source "${SYNTHGEN_VENV:-$HOME/synthgen/.venv}/bin/activate"
srun synthgen merge "$OUT"/shards/*-of-* --out "$OUT/merged"
