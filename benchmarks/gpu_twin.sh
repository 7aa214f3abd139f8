#!/usr/bin/env bash
# The twin's learning benchmarks on a lent GPU machine (issue 13), from the repo root, after
# benchmarks/gpu_twin.py prepared .devbundle/ here. Every run is a separate process, bounded by
# `timeout`; figures are written as they finish and copied to $OUT (or out/gpu/collected).
#   - Table 1 (configs/experiment_twin_magnetic_tile.yaml, the `cpu` recipe): 5 mixes x 3 seeds,
#     one process each, then one tabulating pass that reuses every finished run;
#   - bi-level with the twin as a defect source (configs/bilevel_twin_magnetic_tile.yaml, `cpu`
#     budget of 1500 steps): each run and seed of the config in its own process.
# Measured on an H100 node (16 cores): an epoch of the `cpu` recipe takes about 3 s alone and 7 s
# with all 25 processes side by side, so the 15 experiment runs need about 560 s together: more
# than one 10-minute call leaves after the bi-level runs. Run the two parts in separate calls
# (ONLY=exp or ONLY=bilevel), with LIMIT_S near 540 for the experiment.
# Test it on a CPU first with tiny settings: SKIP_SETUP=1 DEVICE=cpu EPOCHS=1 STEPS=5 LIMIT_S=300.
set -u
limit=${LIMIT_S:-400}
dev=${DEVICE:-cuda}
ep=${EPOCHS:+--epochs $EPOCHS}
st=${STEPS:+--steps $STEPS}
dest=${OUT:-out/gpu/collected}
mkdir -p "$dest/logs"
[ -n "${SKIP_SETUP:-}" ] || bash .devbundle/setup.sh || exit 1
[ ! -f .devbundle/data.tar.gz ] || tar -C .devbundle -xzf .devbundle/data.tar.gz || exit 1
export PYTHONPATH=/tmp/site:$PWD OMP_NUM_THREADS=1
sg() { python -c 'import sys; from synthgen.cli import main; sys.argv[0] = "synthgen"; main()' "$@"; }
E=${EXP_CONFIG:-.devbundle/configs/experiment_twin_magnetic_tile.yaml}
B=${BILEVEL_CONFIG:-.devbundle/configs/bilevel_twin_magnetic_tile.yaml}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader > "$dest/logs/gpu.txt" 2>&1
python -c "import sys, numpy, torch, albumentations, pydantic, synthgen.learn.seg.experiment, synthgen.learn.bilevel.train
print(sys.version.split()[0], 'numpy', numpy.__version__, 'torch', torch.__version__, 'cuda', torch.cuda.is_available())" \
  >> "$dest/logs/gpu.txt" 2>&1 || { cat "$dest/logs/gpu.txt"; exit 1; }
start=$(date +%s)
field() { python -c "import sys, yaml; v = yaml.safe_load(open(sys.argv[1]))[sys.argv[2]]; print(*v)" "$@"; }
[ "${ONLY:-exp}" = bilevel ] || for mix in $(field "$E" mixes); do
  for s in $(field "$E" seeds); do
    timeout "$limit" bash -c "$(declare -f sg); sg seg experiment '$E' --only '$mix' --seed $s --device $dev $ep --quiet" \
      > "$dest/logs/exp_${mix//+/_}_s$s.log" 2>&1 &
  done
done
[ "${ONLY:-bilevel}" = exp ] || for s in $(field "$B" seeds); do
  for run in $(field "$B" runs); do
    timeout "$limit" bash -c "$(declare -f sg); sg bilevel train '$B' --run $run --seeds $s --device $dev $st --quiet" \
      > "$dest/logs/bl_${run}_s$s.log" 2>&1 &
  done
done
wait
echo "training: $(( $(date +%s) - start )) s" > "$dest/logs/time.txt"
[ "${ONLY:-exp}" = bilevel ] || timeout 90 bash -c "$(declare -f sg); sg seg experiment '$E' --device $dev $ep --quiet" \
  > "$dest/logs/exp_table.log" 2>&1
[ "${ONLY:-bilevel}" = exp ] || timeout 60 bash -c "$(declare -f sg); sg bilevel train '$B' --device $dev $st --quiet" \
  > "$dest/logs/bl_table.log" 2>&1
echo "all: $(( $(date +%s) - start )) s" >> "$dest/logs/time.txt"
# figures back, flat: the transfer refuses deep folders and names with '+'; checkpoints stay
res=${RESULTS_DIR:-out/gpu}
find "$res" -type f \( -name '*.json' -o -name '*.md' -o -name '*.png' \) ! -path '*/collected/*' | while read -r f; do
  rel=${f#"$res"/}; flat=${rel//\//__}; cp "$f" "$dest/${flat//+/_}"
done
cp .devbundle/configs/bundle.json "$dest/"
