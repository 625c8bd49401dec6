#!/usr/bin/env bash
# The GPU measurements of the speed work, from the repository root:
#
#   bash benchmarks/gpu_checks.sh speed OUT   # throughput of every setting below in one process,
#                                             # the PyTorch port beside, a profile of each
#   bash benchmarks/gpu_checks.sh runs OUT    # 50 epochs' worth of steps from the command line:
#                                             # the fp32 default and the fastest setting found by
#                                             # `speed`, seeds 0 and 1: wall time and FID
#   bash benchmarks/gpu_checks.sh repro OUT   # the reproducibility harness on the GPU
#   bash benchmarks/gpu_checks.sh members OUT # MEMBERS (8) GANs in one program (a sweep) beside
#                                             # one: aggregate images/s at batch 256
#   bash benchmarks/gpu_checks.sh xla OUT     # XLA's GPU switches one process each (command
#                                             # buffers, latency hiding, and what deterministic
#                                             # ops cost): benchmarks/xla_switches.py, bf16
#   bash benchmarks/gpu_checks.sh recipes OUT # configs/mnist_best.py and mnist_cgan.py as in
#                                             # docs/quality.md: seed 0 alone (the wall time),
#                                             # then 3 seeds as one population (the quality)
#   bash benchmarks/gpu_checks.sh lease OUT   # what a short lease runs first, each part under its
#                                             # own time limit (about 8 minutes in all): `speed`
#                                             # with and without train.pad_channels=8 (bf16 and
#                                             # fp32) and in the tutorial's update order,
#                                             # mnist_best's `recipes`, then `repro`
#   bash benchmarks/gpu_checks.sh all OUT     # speed, xla, repro, recipes, then runs (the longest) last
#
# Results go to OUT (default gpu_checks/): throughput.jsonl and throughput.err (profile tables),
# runs.jsonl and runs.log, recipes.jsonl, recipes.log and recipes.tgz (each recipe member's
# metrics and last grids), members.jsonl, xla.jsonl and xla.err, repro.log, grids.tgz,
# times.txt (`lease`). Needs no network or tfds: training reads the MNIST digits bundled with
# the package. STEPS (timed steps, 1000), VARIANTS, SEEDS ('0 1') and
# RUN_STEPS (11700 = the tutorial's 50 epochs of 60,000 at batch 256) shrink it for a dry run;
# RECIPE_CONFIGS ('mnist_best mnist_cgan') and CACHE (a folder for the evaluation classifier,
# trained once and shared by the calls that name it) narrow `recipes`;
# ONLY_FASTEST=1 leaves the fp32 default out of `runs`. On the device machine, run it with the
# image's python first on PATH (a symlink to a venv's python loses the venv) and the
# ml-collections and tensorboardX wheels on PYTHONPATH, e.g. with both wheels in .whl/:
#   pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl
#   export PYTHONPATH=/tmp/site:$PWD; mkdir -p /tmp/bin
#   printf '#!/bin/sh\nexec python3 "$@"\n' >/tmp/bin/python; chmod +x /tmp/bin/python
#   PATH=/tmp/bin:$PATH bash benchmarks/gpu_checks.sh lease "$OUT"
set -euo pipefail
self=$(realpath "$0")   # `lease` runs the other checks through it, from the root
cd "$(dirname "$self")/.."
what=${1:?speed, runs, members, xla, repro, recipes, lease or all}
out=${2:-gpu_checks}
mkdir -p "$out"
steps=${STEPS:-1000}
run_steps=${RUN_STEPS:-11700}
f32=train.compute_dtype=float32
bf16=train.compute_dtype=bfloat16
# Most telling first: a run cut short by its time limit still reports these.
ps=train.conv_transpose=pixel_shuffle
pad=train.pad_channels=8
# The tutorial's update order (one D pass fewer a step) is timed, but never picked as the
# fastest setting to train with: it is another update, not another way to compute one.
variants=${VARIANTS:-"$bf16,$ps;$bf16,$ps,gan.update_order=simultaneous;$bf16,$ps,$pad;\
$bf16,$ps,train.conv_input_grad=pixel_shuffle;\
$bf16,$ps,train.conv_input_grad=pixel_shuffle,$pad;$f32,$ps;$f32,$ps,$pad;\
$bf16,train.conv_transpose=subpixel;$f32,train.conv_transpose=subpixel;\
$bf16,train.conv_transpose=dilated;$f32,train.conv_transpose=dilated;\
$bf16,train.steps_per_jit=1;$bf16,train.steps_per_jit=10;$bf16,train.steps_per_jit=200"}
bundled="--config.data.source=idx --config.data.path=jaxgan/data/mnist --config.data.split=t10k"

speed() {
  (nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv || true) >"$out/gpu.txt"
  python benchmarks/throughput.py --steps "$steps" --variants "$variants" \
    --profile "$(mktemp -d)" 2>"$out/throughput.err" | tee -a "$out/throughput.jsonl"
}

fastest() {
  # The fastest timed setting's config overrides (JAX options cannot be passed to the trainer).
  python - "$out/throughput.jsonl" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')]
best = max((r for r in lines if not any('update_order' in o for o in r['overrides'])),
           key=lambda r: r['steps_per_sec'])
print(' '.join(f'--config.{o}' for o in best['overrides']
               if '=' in o and not o.startswith(('jax.', '--'))))
PY
}

run() {  # run NAME SEED OVERRIDES...
  local name=$1 seed=$2; shift 2
  local workdir; workdir=$(mktemp -d)/run
  local start end
  start=$(date +%s.%N)
  # shellcheck disable=SC2086
  python -m jaxgan.main --config configs/mnist.py --workdir "$workdir" $bundled \
    --config.data.cache_dir="$cache" --config.seed="$seed" \
    --config.train.num_steps="$run_steps" --config.train.progress_bar=False "$@" \
    >>"$out/runs.log" 2>&1
  end=$(date +%s.%N)
  python - "$workdir" "$name" "$seed" "$start" "$end" "$*" <<'PY' | tee -a "$out/runs.jsonl"
import json, sys
from jaxgan import metric_writers
workdir, name, seed, start, end, overrides = sys.argv[1:]
records = metric_writers.read_metrics(workdir)
fids = [(r['step'], round(r['fid'], 2)) for r in records if 'fid' in r]
speed = sorted(r['steps_per_sec'] for r in records if 'steps_per_sec' in r)
print(json.dumps({'setting': name, 'overrides': overrides, 'seed': int(seed),
                  'steps': records[-1]['step'], 'wall_s': round(float(end) - float(start), 1),
                  'median_logged_steps_per_sec': speed[len(speed) // 2],
                  'best_fid': min(f for _, f in fids), 'fid_by_step': fids}))
PY
  # The last grid of each run, in one archive (few files come back from a device run).
  cp "$(ls "$workdir"/samples/step_*.png | tail -n 1)" "$grids/${name}_$seed.png"
  tar czf "$out/grids.tgz" -C "$grids" .
}

runs() {
  local best; best=$(fastest)
  cache=$(mktemp -d)   # the evaluation classifier, trained by the first run
  grids=$(mktemp -d)
  for seed in ${SEEDS:-0 1}; do
    # ONLY_FASTEST=1 leaves out the fp32 default (already measured, say).
    [ -n "${ONLY_FASTEST:-}" ] || run fp32_default "$seed" --config.$f32
    run fastest "$seed" $best
  done
}

recipe() {  # recipe CONFIG SEEDS OVERRIDES...: one command; its wall time and last five evaluations
  local config=$1 seeds=$2; shift 2
  local workdir; workdir=$(mktemp -d)/run
  local start end
  start=$(date +%s.%N)
  # RECIPE_LIMIT (seconds; 0: none) stops a run with SIGTERM, which it answers by saving a
  # checkpoint; the summary and the archive below still take what it wrote.
  timeout -k 30 "${RECIPE_LIMIT:-0}" python -m jaxgan.main --config "configs/$config.py" \
    --workdir "$workdir" --config.data.cache_dir="$cache" --config.train.num_seeds="$seeds" \
    --config.train.progress_bar=False "$@" >>"$out/recipes.log" 2>&1 ||
    echo "gpu_checks.sh: $config ($seeds seeds) ended with exit $?" | tee -a "$out/recipes.log"
  end=$(date +%s.%N)
  python - "$workdir" "$config" "$seeds" "$start" "$end" <<'PY' | tee -a "$out/recipes.jsonl"
import json, pathlib, sys
from jaxgan import metric_writers
workdir, config, seeds, start, end = sys.argv[1:]
members = sorted(pathlib.Path(workdir).glob('seed_*')) or [pathlib.Path(workdir)]
out = {'config': config, 'seeds': int(seeds), 'wall_s': round(float(end) - float(start), 1)}
for member in members:
  evals = [r for r in metric_writers.read_metrics(member) if 'fid' in r]
  if not evals:
    out[member.name] = {'step': None}
    continue
  out[member.name] = {'step': evals[-1]['step'], 'last5_fid': [round(r['fid'], 2) for r in evals[-5:]],
                      **{k: round(evals[-1][k], 3) for k in
                         ('precision', 'recall', 'fid_floor', 'label_accuracy') if k in evals[-1]}}
print(json.dumps(out))
PY
  # Each member's metrics, its grids and its last sample grid, one archive for all recipes
  # (few files come back from a device run).
  local member dest
  for member in $(cd "$workdir" && find . -name metrics.jsonl -printf '%h\n'); do
    dest=$kept/${config}_$seeds/$member
    mkdir -p "$dest"
    cp "$workdir/$member"/metrics.jsonl "$workdir/$member"/*.png "$dest/" 2>/dev/null || true
    cp "$(ls "$workdir/$member"/samples/step_*.png | tail -n 1)" "$dest/" 2>/dev/null || true
  done
  tar czf "$out/recipes.tgz" -C "$kept" .
}

recipes() {
  cache=${CACHE:-$(mktemp -d)}
  kept=$(mktemp -d)
  # Alone first: the wall time the target names, should the population be cut off.
  for config in ${RECIPE_CONFIGS:-mnist_best mnist_cgan}; do
    recipe "$config" 1 ${RECIPE_OVERRIDES:-}
    recipe "$config" "${RECIPE_SEEDS:-3}" ${RECIPE_OVERRIDES:-}
  done
}

repro() {
  # Three runs of configs/test.py (one interrupted and resumed) compared bit for bit.
  python -m jaxgan.repro --config configs/test.py --interrupt-at 5 2>&1 | tee "$out/repro.log"
}

xla() {
  python benchmarks/xla_switches.py --device gpu --rounds "${ROUNDS:-1}" --steps "$steps" \
    --batch 256 --out "$out/xla.jsonl" -- "--config.$bf16" 2>"$out/xla.err" || true
  cat "$out/xla.err"
}

lease() {
  local start cig=train.conv_input_grad=pixel_shuffle
  export PYTHONUNBUFFERED=1   # a part cut off by its limit still leaves its log
  start=$(date +%s)
  stamp() { echo "gpu_checks.sh lease: $1 at $(($(date +%s) - start)) s" | tee -a "$out/times.txt"; }
  # A part cut off by its limit still leaves what it wrote; the next part runs. Its files
  # are the 8 a device run brings back (gpu.txt, throughput.*, recipes.*, repro.log, times.txt).
  stamp speed
  VARIANTS="$bf16,$ps;$bf16,$ps,gan.update_order=simultaneous;$bf16,$ps,$pad;$bf16,$ps,$cig;\
$bf16,$ps,$cig,$pad;$f32,$ps;$f32,$ps,$pad" \
    timeout -k 10 180 bash "$self" speed "$out" || true
  stamp recipes
  RECIPE_CONFIGS=mnist_best RECIPE_LIMIT=${RECIPE_LIMIT:-100} bash "$self" recipes "$out" || true
  stamp repro
  timeout -k 10 100 bash "$self" repro "$out" || true
  stamp end
}

case "$what" in
  speed) speed ;;
  runs) runs ;;
  members) python benchmarks/throughput.py --steps "$steps" --members "${MEMBERS:-8}" --notorch \
             --variants "$f32;$bf16" 2>"$out/members.err" | tee -a "$out/members.jsonl" ;;
  repro) repro ;;
  xla) xla ;;
  recipes) recipes ;;
  lease) lease ;;
  # A repro that finds a difference exits non-zero; the runs still follow.
  all) speed; xla; repro || echo "gpu_checks.sh: repro reported a difference" >&2; recipes; runs ;;
  *)
    echo "gpu_checks.sh: unknown check '$what' (speed, runs, members, xla, repro, recipes, lease or all)" >&2
    exit 2
    ;;
esac
