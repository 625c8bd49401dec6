#!/usr/bin/env bash
# The GPU measurements of the speed work, in one go, from the repository root:
#
#   bash benchmarks/gpu_checks.sh speed OUT   # throughput: fp32/bf16 x steps per dispatch, the
#                                             # PyTorch port beside, sub-pixel transposed convs,
#                                             # a profile trace (OUT/trace.tgz)
#   bash benchmarks/gpu_checks.sh runs OUT    # 50 epochs' worth of steps from the command line,
#                                             # fp32 and bf16, seeds 0 and 1: wall time and FID
#   bash benchmarks/gpu_checks.sh repro OUT   # the reproducibility harness on the GPU
#
# Results go to OUT (default gpu_checks/): throughput.jsonl, runs.jsonl, logs. Needs no
# network or tfds: training reads the MNIST digits bundled with the package.
# STEPS (timed steps, 2000), SEEDS ('0 1'), RUN_STEPS (11700 = the tutorial's 50 epochs of 60,000 at
# batch 256) and KS (steps per dispatch to try) shrink it for a dry run on a CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:?speed, runs or repro}
out=${2:-gpu_checks}
mkdir -p "$out"
steps=${STEPS:-2000}
run_steps=${RUN_STEPS:-11700}
ks=${KS:-1 10 50 200}
bundled="--config.data.source=idx --config.data.path=jaxgan/data/mnist --config.data.split=t10k"

bench() {
  python benchmarks/throughput.py --steps "$steps" "$@" 2>>"$out/throughput.err" \
    | tail -n 1 | tee -a "$out/throughput.jsonl"
}

case "$what" in
  speed)
    (nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv || true) >"$out/gpu.txt"
    for dtype in float32 bfloat16; do
      for k in $ks; do
        # The port's figure does not depend on K: time it once per dtype, beside the default K.
        torch_flag=--notorch
        [ "$k" = 50 ] && torch_flag=--torch
        bench "$torch_flag" --config.train.compute_dtype="$dtype" --config.train.steps_per_jit="$k"
      done
    done
    # G's transposed convolutions computed sub-pixel (the CPU default) against XLA's default.
    bench --notorch --config.train.conv_transpose=subpixel
    bench --notorch --config.train.conv_transpose=subpixel --config.train.compute_dtype=bfloat16
    bench --notorch --profile "$out/trace"
    tar czf "$out/trace.tgz" -C "$out" trace && rm -rf "$out/trace"
    ;;
  runs)
    for dtype in float32 bfloat16; do
      for seed in ${SEEDS:-0 1}; do
        workdir=$(mktemp -d)/run
        start=$(date +%s.%N)
        # shellcheck disable=SC2086
        python -m jaxgan.main --config configs/mnist.py --workdir "$workdir" $bundled \
          --config.seed="$seed" --config.train.num_steps="$run_steps" \
          --config.train.compute_dtype="$dtype" --config.train.progress_bar=False \
          >"$out/run_${dtype}_$seed.log" 2>&1
        end=$(date +%s.%N)
        python - "$workdir" "$dtype" "$seed" "$start" "$end" <<'EOF' | tee -a "$out/runs.jsonl"
import json, sys
from jaxgan import metric_writers
workdir, dtype, seed, start, end = sys.argv[1:]
records = metric_writers.read_metrics(workdir)
fids = [(r['step'], round(r['fid'], 2)) for r in records if 'fid' in r]
speed = sorted(r['steps_per_sec'] for r in records if 'steps_per_sec' in r)
print(json.dumps({'compute_dtype': dtype, 'seed': int(seed), 'steps': records[-1]['step'],
                  'wall_s': round(float(end) - float(start), 1),
                  'median_logged_steps_per_sec': speed[len(speed) // 2],
                  'best_fid': min(f for _, f in fids), 'fid_by_step': fids}))
EOF
        cp "$workdir/samples.gif" "$out/samples_${dtype}_$seed.gif"
      done
    done
    ;;
  repro)
    python -m jaxgan.repro --config configs/test.py --interrupt-at 5 2>&1 | tee "$out/repro.log"
    ;;
  *)
    echo "gpu_checks.sh: unknown check '$what' (speed, runs or repro)" >&2
    exit 2
    ;;
esac
