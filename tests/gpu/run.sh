#!/usr/bin/env bash
# Runs the GPU tests, the decode kernels bench and the CUDA benchmark of
# issue 3 on the GPU machine, in one call (~9 minutes with the defaults).
#   tests/gpu/run.sh CARRY OUT
# CARRY holds what was built on the development machine (see
# tests/gpu/pack.sh): bin/ (gpu_cuda_tests, gpu_decode_bench, tokamak-cli),
# lib/ (shared libraries the GPU machine may lack), data/ (aidreams260K).
# Logs and JSON go to OUT, at most 7 files: env.txt, gpu_tests.log,
# kernels.log, bench.log, bench.json (one array, an object per model),
# memcheck.log.
# Environment (all optional):
#   BENCH_MODELS   "preset:mix ..." (default: llama2-7b and llama3-8b in
#                  f16 q8_0 q4_0 q4_k_m); "" skips the benchmark
#   BENCH_ARGS     extra arguments for tokamak-cli bench
#   SKIP_TESTS=1, SKIP_KERNELS=1, SANITIZER=1 (memcheck on the backend tests)
#   PROFILE=1      nsys kernel summary of a pp512 + tg32 run of the first model
#                  (profile.log)
#   GTEST_FILTER   for gpu_cuda_tests
set -u
. "$(dirname "$0")/device_env.sh" "$@"  # CARRY, OUT, BIN, loader path
T0=$(date +%s)
elapsed() { echo "[$(($(date +%s) - T0)) s]"; }

{
  date -u; nvidia-smi --query-gpu=name,memory.total,memory.used,clocks.sm,clocks.mem --format=csv
  nproc; df -h /tmp | tail -1
  for b in "$BIN"/*; do echo "== $b"; ldd "$b" | grep -E "not found|fmt|pcre|sentencepiece|cudart|cublas|sqlite"; done
} 2>&1 | tee "$OUT/env.txt"

if [ "${SKIP_TESTS:-0}" != 1 ]; then
  echo "== gpu tests $(elapsed)"
  TOKAMAK_GPU_DATA=$CARRY/data timeout 300 "$BIN/gpu_cuda_tests" \
    --gtest_filter="${GTEST_FILTER:-*}" > "$OUT/gpu_tests.log" 2>&1
  echo "gpu_cuda_tests exit code $?" | tee -a "$OUT/gpu_tests.log"
  grep -E "^\[  (PASSED|FAILED|SKIPPED) |FAILED|tests ran|rows \(" "$OUT/gpu_tests.log" | head -40
fi

if [ "${SKIP_KERNELS:-0}" != 1 ]; then
  echo "== decode kernels $(elapsed)"
  timeout 60 "$BIN/gpu_decode_bench" --kernels > "$OUT/kernels.log" 2>&1
  tail -30 "$OUT/kernels.log"
fi

# Random-weight models of real shapes, synthesized here (never shipped),
# one at a time (a 7B F16 file is 13 GiB; the disk holds few of them).
echo "== tokamak-cli bench --device cuda $(elapsed)"
SYNTH=${SYNTH_DIR:-/tmp/tk-synth}
JSON=/tmp/tk-bench-json
rm -rf "$JSON"; mkdir -p "$JSON"
for spec in ${BENCH_MODELS-llama2-7b:f16 llama2-7b:q8_0 llama2-7b:q4_0 llama2-7b:q4_k_m llama3-8b:f16 llama3-8b:q8_0 llama3-8b:q4_0 llama3-8b:q4_k_m}; do
  name=${spec//:/-}
  echo "-- $spec $(elapsed)" | tee -a "$OUT/bench.log"
  timeout 240 "$BIN/tokamak-cli" bench "synth:$spec" --device cuda --cache-dir "$SYNTH" \
    -r 3 --warmup 1 --json-out "$JSON/$name.json" ${BENCH_ARGS:-} >> "$OUT/bench.log" 2>&1
  echo "exit code $? $(elapsed)" | tee -a "$OUT/bench.log"
  grep -E "^(decode|prefill|latency|copy bw|  by op):" "$OUT/bench.log" | tail -15
  NSYS=$(command -v nsys || ls /usr/local/cuda/bin/nsys /opt/nvidia/nsight-systems*/bin/nsys 2>/dev/null | head -1)
  if [ "${PROFILE:-0}" = 1 ] && [ ! -e "$OUT/profile.log" ]; then
    if [ -n "$NSYS" ]; then
      echo "-- nsys $spec $(elapsed)"
      timeout 180 "$NSYS" profile --stats=true --force-overwrite=true -o /tmp/tk-profile \
        "$BIN/tokamak-cli" bench "synth:$spec" --device cuda --cache-dir "$SYNTH" -r 1 --warmup 0 \
        -n 32 --prefill-lengths 512 --latency-prompts 512 --sweep-tokens 16 > "$OUT/profile.log" 2>&1
      echo "nsys exit code $? $(elapsed)"
    else
      echo "nsys not found" > "$OUT/profile.log"
    fi
  fi
  rm -rf "$SYNTH/synth"
done
{
  echo "["; sep=""
  for f in "$JSON"/*.json; do [ -e "$f" ] || continue; echo "$sep"; cat "$f"; sep=","; done
  echo "]"
} > "$OUT/bench.json"

if [ "${SANITIZER:-0}" = 1 ]; then
  # (not the fault test: its invalid launch is an API error memcheck counts)
  echo "== compute-sanitizer (memcheck, backend, decode-step and sampling tests) $(elapsed)"
  CS=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
  if [ -n "$CS" ]; then
    TOKAMAK_GPU_DATA=$CARRY/data timeout 150 "$CS" --tool memcheck --error-exitcode 3 \
      "$BIN/gpu_cuda_tests" \
      --gtest_filter='CudaBackend.*:CudaDecodeStep.*:DeviceSampling.Greedy*:*SynthModels*tiny_q4_k_m*:-*AFailingDeviceCall*' \
      > "$OUT/memcheck.log" 2>&1
    echo "memcheck exit code $?"
    grep -E "ERROR SUMMARY|PASSED|FAILED" "$OUT/memcheck.log" | head -5
  else
    echo "compute-sanitizer not found"
  fi
fi
echo "== done $(elapsed)"
