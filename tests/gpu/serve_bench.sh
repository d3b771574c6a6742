#!/usr/bin/env bash
# The serving benchmarks of the batching issue on the GPU machine: synthetic
# llama2-7b F16 (random weights of the real shape, synthesized there), every
# batching policy, all through `tokamak-cli bench serve --device cuda`.
#   tests/gpu/serve_bench.sh CARRY OUT
# Writes OUT/serve.log (the terminal tables) and OUT/serve.jsonl (one line
# per command: {"name", "result": its --json-out}), appended as each command
# ends, so a run cut short keeps what it measured. ~8 minutes at scale 1.
# Environment: SERVE_MODEL (default llama2-7b:f16), SERVE_PARTS (default
# "lmi none c64 sweep long"; also "check": the GPU attention/backend tests,
# "steps": gpu_batch_bench; "batched": bench batched, llama-batched-bench's
# table at PP 128 / TG 128 -> OUT/batched.log, batched.json), SERVE_SCALE (request counts x, default 1; may
# be fractional).
set -u
. "$(dirname "$0")/device_env.sh" "$@"  # CARRY, OUT, BIN, loader path
T0=$(date +%s)
elapsed() { echo "[$(($(date +%s) - T0)) s]"; }
MODEL=synth:${SERVE_MODEL:-llama2-7b:f16}
SYNTH=${SYNTH_DIR:-/tmp/tk-synth}
JSON=/tmp/tk-serve-json
rm -rf "$JSON"; mkdir -p "$JSON"
LOG=$OUT/serve.log
n() { awk -v a="$1" -v s="${SERVE_SCALE:-1}" 'BEGIN { v = int(a * s + 0.5); print (v < 1 ? 1 : v) }'; }

serve() {  # serve NAME ARGS...: one bench serve command, its JSON kept as NAME
  local name=$1; shift
  echo "-- $name: bench serve $MODEL $* $(elapsed)" | tee -a "$LOG"
  timeout 300 "$BIN/tokamak-cli" bench serve "$MODEL" --device cuda --cache-dir "$SYNTH" --no-db \
    --warmup 4 --json-out "$JSON/$name.json" "$@" >> "$LOG" 2>&1
  echo "exit code $? $(elapsed)" | tee -a "$LOG"
  [ -e "$JSON/$name.json" ] && python3 -c 'import json, sys
print(json.dumps({"name": sys.argv[1], "result": json.load(open(sys.argv[2]))}))' \
    "$name" "$JSON/$name.json" >> "$OUT/serve.jsonl"
}

gguf() {  # the synthesized model's file (as bench serve names it), made once
  local spec=${MODEL#synth:} f
  f=$SYNTH/synth/${spec%%:*}-${spec#*:}.gguf
  if [ ! -e "$f" ]; then
    mkdir -p "$SYNTH/synth"
    "$BIN/tokamak-cli" synth "${spec%%:*}" --type "${spec#*:}" -o "$f" > /dev/null 2>&1
  fi
  echo "$f"
}

for part in ${SERVE_PARTS:-lmi none c64 sweep long}; do
  case $part in
    # Correctness of the attention and step paths first (tests/gpu).
    check)
      TOKAMAK_GPU_DATA=$CARRY/data timeout 120 "$BIN/gpu_cuda_tests" --gtest_filter='*Attention*:CudaBackend*:CudaDecodeStep*' \
        > "$OUT/check.log" 2>&1
      echo "check: exit code $? $(grep -E '^\[  (PASSED|FAILED) ' "$OUT/check.log" | tr '\n' ' ') $(elapsed)" \
        | tee -a "$LOG"
      # Attention failures: do they go with the one-key-per-thread scores?
      if grep -q "^\[  FAILED  \] .*Attention" "$OUT/check.log"; then
        TOKAMAK_GPU_DATA=$CARRY/data TOKAMAK_CUDA_DECODE_ROWS=thread timeout 60 "$BIN/gpu_cuda_tests" --gtest_filter='*Attention*' \
          > "$OUT/check_thread.log" 2>&1 && export TOKAMAK_CUDA_DECODE_ROWS=thread
        echo "check: attention failed; thread rows: $(tail -1 "$OUT/check_thread.log"), using ${TOKAMAK_CUDA_DECODE_ROWS:-group} rows" \
          | tee -a "$LOG"
      fi ;;
    # Batched steps without the engine (decode B @ P, mixed), as built and
    # with one GEMM per weight of a group (TOKAMAK_GEMM_BATCHED=0).
    steps)
      timeout 90 "$BIN/gpu_batch_bench" "$(gguf)" > "$OUT/steps.log" 2>&1
      echo "-- TOKAMAK_GEMM_BATCHED=0" >> "$OUT/steps.log"
      TOKAMAK_GEMM_BATCHED=0 timeout 60 "$BIN/gpu_batch_bench" "$(gguf)" >> "$OUT/steps.log" 2>&1
      echo "steps: exit code $? $(elapsed)" | tee -a "$LOG" ;;
    # llama-batched-bench's measurement (prefill B x 128, then 128 decode
    # steps of B tokens): S_TG is the figure llama.cpp's 5,160 at B = 64 is.
    batched)
      echo "-- batched $(elapsed)" | tee -a "$LOG"
      timeout 240 "$BIN/tokamak-cli" bench batched "$MODEL" --device cuda --cache-dir "$SYNTH" \
        --pp 128 --tg 128 --npl 1,8,16,32,64,128 -r 3 --json-out "$OUT/batched.json" \
        > "$OUT/batched.log" 2>&1
      echo "batched: exit code $? $(elapsed)" | tee -a "$LOG"
      cat "$OUT/batched.log" ;;
    # The published comparison (3 prompts x 64/128/256 output tokens, 50
    # clients), fewer requests than its 5000.
    lmi) serve lmi --policy static,dynamic,continuous,paged --workload lmi --concurrency 50 \
           --batch-size 16 --requests "$(n 400)" ;;
    # One request at a time is ~50x slower: fewer requests, same workload.
    none) serve lmi-none --policy none --workload lmi --concurrency 50 --requests "$(n 24)" ;;
    # 128 in / 128 out at 64 and 128 concurrent sequences (llama-batched-bench's shape).
    c64) serve c64 --policy continuous,paged --workload fixed:128:128 --concurrency 64,128 \
           --max-sequences 128 --requests "$(n 512)" ;;
    # Throughput and latency vs concurrency, 1..256 (paged).
    sweep)
      serve sweep-low --policy paged --workload fixed:128:128 --concurrency 1,4 --requests "$(n 16)"
      serve sweep-high --policy paged --workload fixed:128:128 --concurrency 16,64,128,256 \
        --max-sequences 256 --requests "$(n 512)" ;;
    # Latency per token vs batch size at a 4096-token context (4032 in, 64 out).
    # Dynamic waits for the whole batch (static took what had arrived when
    # the first step ran: 9 of 32 on the H200).
    long)
      for b in 1 8 16 32; do
        serve long-b$b --policy dynamic --workload fixed:4032:64 --batch-size $b --concurrency $b \
          --max-sequences $b --requests "$b"
      done ;;
  esac
done
rm -rf "$SYNTH/synth"
grep -E "^(policy|none|static|dynamic|continuous|paged) " "$LOG" | head -60
