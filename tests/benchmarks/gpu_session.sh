#!/usr/bin/env bash
# The GPU figures of RESULTS.md in one run on a GPU machine whose python3 holds torch (with
# jsonschema's wheels installed beside it for the config loader). Each step has its own time
# limit, and its output is kept under $OUT (./gpu-out when unset), so a step stopped at its limit
# keeps what it printed.
set -u
out=${OUT:-gpu-out}
mkdir -p "$out"
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
python=${PYTHON:-python3}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
# the paper's protocol (204 scans, 5 folds, paper model at 96^3, eager fp32: phantom-paper.yaml's
# settings) for 2 epochs: the per-epoch time gives the 50-epoch protocol's
timeout 170 "$python" tests/benchmarks/bench_protocol.py --random --epochs 2 2>&1 | tee "$out/protocol.txt"
# the levers without compilation, and 5 trainers at once on the GPU (the last lever: bf16 autocast)
timeout 100 "$python" tests/benchmarks/bench_training.py --device cuda --cases paper:96 --scans 16 \
  --only "eager fp32 (trainer)" "channels-last fp32" "bf16 autocast" --concurrent 5 2>&1 | tee "$out/levers.txt"
# the compiled levers (each compiles the model once, so they take longest)
timeout 230 "$python" tests/benchmarks/bench_training.py --device cuda --cases paper:96 --scans 16 \
  --only "compile fp32" "compile bf16" "compile bf16 channels-last" "CUDA graphs bf16" 2>&1 | tee "$out/compiled.txt"
