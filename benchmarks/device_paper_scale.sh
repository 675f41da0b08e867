#!/usr/bin/env bash
# The paper-scale work that wants a GPU, as one script for a session lent one (see README, "Paper-scale experiments").
#
#   PYTHON=python3 SHB_DATA_DIR=<mnist folder> OUT=<folder> benchmarks/device_paper_scale.sh
#
# Prints the device, runs the MNIST benchmarks (parts 1 and 3) and then the paper's random-search surfaces
# (2500 samples; horizons from $HORIZONS, default 5000 and 20000) with the 20k-step runs of each horizon's choice,
# timing each, into $OUT/results (copy the files into results/ and commit them). Everything it needs besides the
# repository is JAX; run it from the repository root. A CPU smoke test: SAMPLES=4 HORIZONS=100 CHUNK=4 PARTS=3.
set -euo pipefail
PYTHON=${PYTHON:-.venv/bin/python}
OUT=${OUT:-results/device}
SAMPLES=${SAMPLES:-2500}
HORIZONS=${HORIZONS:-"5000 20000"}
CHUNK=${CHUNK:-500}
PARTS=${PARTS:-"1 3"}
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}.
export PYTHONUNBUFFERED=1
mkdir -p "$OUT/results"
(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi") \
  | tee "$OUT/device.txt"
"$PYTHON" -c "import jax; print('jax', jax.__version__, jax.devices())" | tee -a "$OUT/device.txt"
# shellcheck disable=SC2086
"$PYTHON" benchmarks/bench_mnist.py --parts $PARTS 2>&1 | tee "$OUT/bench_mnist.txt"
for T in $HORIZONS; do
  start=$(date +%s)
  "$PYTHON" -m shb_lib.experiments mnist --scale paper --out "$OUT/results" --horizons "$T" --units surface \
    --samples "$SAMPLES" --chunk "$CHUNK" 2>&1 | tail -n 3
  echo "surface T=$T, $SAMPLES samples: $(( $(date +%s) - start )) s" | tee -a "$OUT/times.txt"
done
start=$(date +%s)
# shellcheck disable=SC2086
"$PYTHON" -m shb_lib.experiments mnist --scale paper --out "$OUT/results" --horizons $HORIZONS \
  --units surface long --samples "$SAMPLES" --choose surface 2>&1 | tail -n 8
echo "20k-step runs: $(( $(date +%s) - start )) s" | tee -a "$OUT/times.txt"
