#!/usr/bin/env bash
# Where a batched serving step's time goes, on the GPU machine:
#   tests/gpu/batch_profile.sh CARRY OUT
# 1. gpu_batch_bench: decode steps of B sequences (graphs, then op timing),
#    mixed steps (64 decodes + a prompt chunk);
# 2. `bench serve` paged, fixed:128:128 at 64 clients with the engine's
#    per-step trace (TOKAMAK_ENGINE_TRACE);
# each as built and with the former attention geometry ("old":
# TOKAMAK_CUDA_SPLIT_DECODES=0, TOKAMAK_CUDA_DECODE_SPLITS=16).
# Writes OUT/batch_{new,old}.log, OUT/serve_{new,old}.log, OUT/trace_*.csv.
set -u
. "$(dirname "$0")/device_env.sh" "$@"  # CARRY, OUT, BIN, loader path
SYNTH=/tmp/tk-synth
MODEL=synth:${SERVE_MODEL:-llama2-7b:f16}
REQ=${PROFILE_REQUESTS:-128}
C64="--policy paged --workload fixed:128:128 --concurrency 64 --requests $REQ"
serve() {  # serve NAME "BENCH ARGS" [ENV=VALUE ...]: one traced run
  local name=$1 args=$2; shift 2
  env "$@" TOKAMAK_ENGINE_TRACE="/tmp/trace_$name" timeout 120 "$BIN/tokamak-cli" bench serve \
    "$MODEL" --device cuda --cache-dir "$SYNTH" --no-db --warmup 4 $args > "$OUT/serve_$name.log" 2>&1
  echo "serve $name: exit $?"
  cp /tmp/trace_"$name".0.csv "$OUT/trace_$name.csv" 2>/dev/null
}
OLD="TOKAMAK_CUDA_SPLIT_DECODES=0 TOKAMAK_CUDA_DECODE_SPLITS=16"
serve new "$C64"
GGUF=$(ls "$SYNTH"/synth/*.gguf | head -1)
timeout 90 "$BIN/gpu_batch_bench" "$GGUF" > "$OUT/batch_new.log" 2>&1; echo "batch new: exit $?"
env $OLD timeout 90 "$BIN/gpu_batch_bench" "$GGUF" > "$OUT/batch_old.log" 2>&1
echo "batch old: exit $?"
serve old "$C64" $OLD
serve lmi "--policy continuous --workload lmi --concurrency 50 --requests $REQ"
grep -h "case\|out tok/s" "$OUT"/batch*.log "$OUT"/serve_*.log | head -40
