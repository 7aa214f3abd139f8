#!/usr/bin/env bash
# One synthgen shard per array task, one GPU each, into <OUT>/shards/<KKK>-of-<NNN> (the same
# folder names as `synthgen render --shard` and the Kubernetes template). Re-submitting the same
# array resumes unfinished shards. Submit the render and its merge together:
#   jid=$(sbatch --parsable docker/cluster/slurm_array.sh)
#   sbatch --dependency=afterok:$jid docker/cluster/slurm_merge.sh
#SBATCH --job-name=synthgen
#SBATCH --array=0-15
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=8
#SBATCH --mem=24G
#SBATCH --time=24:00:00
#SBATCH --output=logs/synthgen-%A_%a.out
set -euo pipefail
OUT=${SYNTHGEN_OUT:-/data/synthgen/production}
source "${SYNTHGEN_VENV:-$HOME/synthgen/.venv}/bin/activate"   # a venv with `pip install ".[render]"`
shard=$(printf %03d-of-%03d "$SLURM_ARRAY_TASK_ID" "$SLURM_ARRAY_TASK_COUNT")
srun synthgen render configs/production.yaml --shard "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT" \
    --out "$OUT/shards/$shard"
