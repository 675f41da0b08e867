#!/usr/bin/env bash
# The paper-scale work that wants a GPU, as one script for a session lent one (see README, "Paper-scale experiments").
#
#   PYTHON=python3 SHB_DATA_DIR=<mnist folder> OUT=<folder> benchmarks/device_paper_scale.sh
#
# Phases, most important first, each timed into $OUT/times.txt:
#   1. the device (nvidia-smi, jax.devices()) into $OUT/device.txt;
#   2. the paper's random-search surfaces, $SAMPLES samples (default 2500), for each horizon in $HORIZONS
#      (default 100 20000 5000 1000: the shortest first as a quick check of the code path, then the issue's 20k);
#   3. the 20k-step runs of each horizon's choice (surface top 3);
#   4. the MNIST benchmarks, parts $PARTS (default 1 3) into $OUT/bench_mnist.txt;
#   5. SMD (Algorithm 1) from both initial betas for $SMD_HORIZONS with $SMD_STEPS meta-steps, if time is left.
# A phase starts only while less than $DEADLINE seconds (default 420) have passed, and runs under `timeout` for
# what is left, so the script ends inside a lease. Results go to $OUT/results (copy them into results/ and commit);
# with PACK=<file> everything under $OUT is also packed into that one tar after every phase, so an interrupted
# lease still returns what finished. Float32 matrix products run at full precision on every backend
# (JAX_DEFAULT_MATMUL_PRECISION=highest, recorded in each unit's provenance), as they do on a CPU.
# Run it from the repository root; it needs the repository and JAX.
# A CPU smoke test: SAMPLES=4 HORIZONS=100 CHUNK=4 PARTS=3 SMD_HORIZONS=100 SMD_STEPS=2 OUT=/tmp/dev ...
set -uo pipefail
PYTHON=${PYTHON:-.venv/bin/python}
OUT=${OUT:-results/device}
SAMPLES=${SAMPLES:-2500}
HORIZONS=${HORIZONS:-"100 20000 5000 1000"}
CHUNK=${CHUNK:-2500}
PARTS=${PARTS:-"1 3"}
SMD_HORIZONS=${SMD_HORIZONS:-"100 1000"}
SMD_STEPS=${SMD_STEPS:-"1000 300"}
DEADLINE=${DEADLINE:-420}
PACK=${PACK:-}
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}.
export PYTHONUNBUFFERED=1
export JAX_DEFAULT_MATMUL_PRECISION=${JAX_DEFAULT_MATMUL_PRECISION:-highest}
T0=$(date +%s)
mkdir -p "$OUT/results"

left() { echo $(( DEADLINE - ($(date +%s) - T0) )); }
pack() {  # everything under $OUT into $PACK (a literal path: PACK=$OUT/x on the same line expands the new $OUT)
  [ -z "$PACK" ] && return
  tar -C "$OUT" -cf "$PACK.tmp" --exclude "$(basename "$PACK")*" . && mv "$PACK.tmp" "$PACK" \
    || echo "WARNING: packing $OUT into $PACK failed; the last pack is older" >&2
}
phase() {  # phase NAME 'SHELL COMMAND': run it under the time left, log its wall time and exit status, pack
  local name=$1 cmd=$2
  if [ "$(left)" -le 5 ]; then echo "skipped (deadline): $name" | tee -a "$OUT/times.txt"; return; fi
  local start rc
  start=$(date +%s)
  timeout "$(left)" bash -o pipefail -c "$cmd"
  rc=$?
  echo "$name: $(( $(date +%s) - start )) s, exit $rc" | tee -a "$OUT/times.txt"
  pack
}
printf -v PY %q "$PYTHON"
printf -v RESULTS %q "$OUT/results"
printf -v OUTQ %q "$OUT"
MNIST="$PY -m shb_lib.mnist.experiments mnist --scale paper --out $RESULTS"
LOG="2>&1 | tr '\\r' '\\n' | grep -v '^ *\$' | tee -a $OUTQ/run.log | tail -n 12"  # tqdm's bars as lines, the last few

(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi") \
  | tee "$OUT/device.txt"
"$PYTHON" -c "import jax; from shb_lib.mnist.experiments import _matmul_precision as m; print('jax', jax.__version__, jax.devices(), 'matmul precision', m())" \
  | tee -a "$OUT/device.txt"
pack
for T in $HORIZONS; do
  phase "surface T=$T, $SAMPLES samples" "$MNIST --horizons $T --units surface --samples $SAMPLES --chunk $CHUNK $LOG"
done
phase "20k-step runs of the surface choices" \
  "$MNIST --horizons $HORIZONS --units surface long --samples $SAMPLES --chunk $CHUNK --choose surface $LOG"
phase "benchmarks, parts $PARTS" "$PY benchmarks/bench_mnist.py --parts $PARTS 2>&1 | tee $OUTQ/bench_mnist.txt"
phase "SMD T=$SMD_HORIZONS, meta-steps $SMD_STEPS, betas 0.1 10" \
  "$MNIST --horizons $SMD_HORIZONS --units smd --meta-steps $SMD_STEPS --init-betas 0.1 10 --meta-lr 0.05 $LOG"
echo "total: $(( $(date +%s) - T0 )) s" | tee -a "$OUT/times.txt"
pack
