#!/usr/bin/env bash
# Runs the GPU tests and a small decode benchmark on the GPU machine.
#   tests/gpu/run.sh CARRY OUT
# CARRY holds what was built on the development machine (see
# tests/gpu/pack.sh): bin/ (gpu_cuda_tests, gpu_decode_bench, tokamak-cli if built),
# lib/ (shared libraries the GPU machine may lack), data/ (aidreams260K).
# Logs go to OUT.
set -u
CARRY=$(realpath "${1:-gpu-carry}")
OUT=${2:-${OUT:-/tmp/gpu-out}}
mkdir -p "$OUT"
BIN=$CARRY/bin

# Carried libraries only where the machine lacks them.
mkdir -p /tmp/tk-lib
for lib in "$CARRY"/lib/*; do
  [ -e "$lib" ] || continue
  name=$(basename "$lib")
  if ! ldconfig -p | grep -q "$name"; then ln -sf "$lib" /tmp/tk-lib/"$name"; echo "using carried $name"; fi
done
export LD_LIBRARY_PATH=/tmp/tk-lib:${LD_LIBRARY_PATH:-}
# cuBLAS stays shared: find it where the toolkit put it if the loader does not.
if ! ldconfig -p | grep -q libcublas.so.13; then
  for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib /usr/lib/x86_64-linux-gnu; do
    [ -e "$d/libcublas.so.13" ] && export LD_LIBRARY_PATH=$LD_LIBRARY_PATH:$d && break
  done
fi

{
  date -u; nvidia-smi --query-gpu=name,memory.total,memory.used,clocks.sm,clocks.mem --format=csv
  for b in "$BIN"/*; do echo "== $b"; ldd "$b" | grep -E "not found|fmt|pcre|sentencepiece|cudart|cublas"; done
} 2>&1 | tee "$OUT/env.txt"

echo "== gpu tests"
TOKAMAK_GPU_DATA=$CARRY/data timeout 240 "$BIN/gpu_cuda_tests" \
  --gtest_output=xml:"$OUT/gpu_tests.xml" > "$OUT/gpu_tests.log" 2>&1
echo "gpu_cuda_tests exit code $?" | tee -a "$OUT/gpu_tests.log"
grep -E "^\[  (PASSED|FAILED|SKIPPED) |FAILED|tests ran" "$OUT/gpu_tests.log" | head -40

echo "== decode kernels"
timeout 60 "$BIN/gpu_decode_bench" --kernels 2>&1 | tee "$OUT/kernels.log"

echo "== decode bench"
# Random-weight models of real shapes, synthesized there (never shipped).
for spec in ${BENCH_MODELS:-tinyllama-1.1b:q4_0 tinyllama-1.1b:q8_0 tinyllama-1.1b:f16 llama2-7b:q4_0 llama2-7b:q8_0 llama2-7b:q4_k_m}; do
  echo "-- $spec" | tee -a "$OUT/bench.log"
  timeout 150 "$BIN/gpu_decode_bench" "synth:$spec" 128 128 2>&1 | tee -a "$OUT/bench.log"
done

echo "== compute-sanitizer (memcheck, backend and attention tests)"
CS=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
if [ -n "$CS" ]; then
  TOKAMAK_GPU_DATA=$CARRY/data timeout 120 "$CS" --tool memcheck --error-exitcode 3 \
    "$BIN/gpu_cuda_tests" --gtest_filter='CudaBackend.*:*Attention*:*SynthModels*tiny_q4_k_m*' \
    > "$OUT/memcheck.log" 2>&1
  echo "memcheck exit code $?"
  grep -E "ERROR SUMMARY|PASSED|FAILED" "$OUT/memcheck.log" | head -5
else
  echo "compute-sanitizer not found"
fi
