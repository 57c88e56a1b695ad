#!/usr/bin/env bash
# Every GPU check in one run, for a CUDA machine with torch, numpy, scipy, h5py, matplotlib,
# scikit-learn, tifffile and pytest installed (the project's pins do not apply; missing
# packages such as tqdm can be carried as wheels and installed with pip --no-index).
#
#   OUT=gpu-results bash benchmarks/gpu_check.sh
#
# 1. the test suite on CUDA (tests that need ../shared/data skip without it);
# 2. benchmarks/bench_fit_large.py --device cuda: whole default fits of 1024, 2048 and
#    4096 px generated crystals, seconds per step, achieved FLOP/s against the measured fp32
#    and bf16 matmul peaks, peak memory, and the whole `shiftvae fit` command.
# Results and logs go under $OUT.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${OUT:-gpu-results}"
mkdir -p "$OUT"
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
PY="${PYTHON:-python3}"
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
"$PY" -m pytest -q -p no:cacheprovider > "$OUT/pytest.txt" 2>&1
echo "pytest exit status $?" >> "$OUT/pytest.txt"
"$PY" benchmarks/bench_fit_large.py --device cuda --json "$OUT/bench_fit_large_cuda.json" \
  > "$OUT/bench_fit_large.txt" 2>&1
echo "bench_fit_large exit status $?" >> "$OUT/bench_fit_large.txt"
tail -n 3 "$OUT/pytest.txt" "$OUT/bench_fit_large.txt"
