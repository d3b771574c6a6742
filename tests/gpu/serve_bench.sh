#!/usr/bin/env bash
# The serving benchmarks of the batching issue on the GPU machine: synthetic
# llama2-7b F16 (random weights of the real shape, synthesized there), every
# batching policy, all through `tokamak-cli bench serve --device cuda`.
#   tests/gpu/serve_bench.sh CARRY OUT
# Writes OUT/serve.log (the terminal tables) and OUT/serve.json (one array of
# the runs of every command). ~8 minutes.
# Environment: SERVE_MODEL (default llama2-7b:f16), SERVE_PARTS (default
# "lmi none c64 sweep long"), SERVE_SCALE (request counts x, default 1).
set -u
CARRY=$(realpath "${1:-gpu-carry}")
OUT=${2:-${OUT:-/tmp/gpu-out}}
mkdir -p "$OUT"
BIN=$CARRY/bin
. "$(dirname "$0")/device_env.sh" "$CARRY"
T0=$(date +%s)
elapsed() { echo "[$(($(date +%s) - T0)) s]"; }
MODEL=synth:${SERVE_MODEL:-llama2-7b:f16}
SYNTH=${SYNTH_DIR:-/tmp/tk-synth}
JSON=/tmp/tk-serve-json
rm -rf "$JSON"; mkdir -p "$JSON"
LOG=$OUT/serve.log
n() { echo $(( $1 * ${SERVE_SCALE:-1} )); }

serve() {  # serve NAME ARGS...: one bench serve command, its JSON kept as NAME
  local name=$1; shift
  echo "-- $name: bench serve $MODEL $* $(elapsed)" | tee -a "$LOG"
  timeout 300 "$BIN/tokamak-cli" bench serve "$MODEL" --device cuda --cache-dir "$SYNTH" --no-db \
    --warmup 4 --json-out "$JSON/$name.json" "$@" >> "$LOG" 2>&1
  echo "exit code $? $(elapsed)" | tee -a "$LOG"
}

for part in ${SERVE_PARTS:-lmi none c64 sweep long}; do
  case $part in
    # The published comparison (3 prompts x 64/128/256 output tokens, 50
    # clients), fewer requests than its 5000.
    lmi) serve lmi --policy static,dynamic,continuous,paged --workload lmi --concurrency 50 \
           --batch-size 16 --requests "$(n 400)" ;;
    # One request at a time is ~50x slower: fewer requests, same workload.
    none) serve lmi-none --policy none --workload lmi --concurrency 50 --requests "$(n 24)" ;;
    # 128 in / 128 out at 64 and 128 concurrent sequences (llama-batched-bench's shape).
    c64) serve c64 --policy continuous,paged --workload fixed:128:128 --concurrency 64,128 \
           --max-sequences 128 --requests "$(n 512)" ;;
    # Throughput and latency vs concurrency, 1..256.
    sweep)
      serve sweep-low --policy paged,continuous --workload fixed:128:128 --concurrency 1,4 \
        --requests "$(n 16)"
      serve sweep-high --policy paged,continuous --workload fixed:128:128 \
        --concurrency 16,64,256 --max-sequences 256 --requests "$(n 512)" ;;
    # Latency per token vs batch size at a 4096-token context (4032 in, 64 out).
    long)
      for b in 1 8 32; do
        serve long-b$b --policy static --workload fixed:4032:64 --batch-size $b --concurrency $b \
          --max-sequences $b --requests "$b"
      done ;;
  esac
done
rm -rf "$SYNTH/synth"
{
  echo "["; sep=""
  for f in "$JSON"/*.json; do [ -e "$f" ] || continue; echo "$sep{\"name\": \"$(basename "$f" .json)\", \"result\": "; cat "$f"; echo "}"; sep=","; done
  echo "]"
} > "$OUT/serve.json"
grep -E "^(policy|none|static|dynamic|continuous|paged) " "$LOG" | head -60
