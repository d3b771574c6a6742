#!/usr/bin/env bash
# Fills gpu-carry/ (ignored through .git/info/exclude) with what
# tests/gpu/run.sh needs on the GPU machine, from the build folder given
# (default build/cuda, configured with `cmake --preset gpu -B build/cuda`).
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build/cuda}
CARRY=${CARRY:-$ROOT/gpu-carry}  # a helper may name its own folder
DATA=${TOKAMAK_SHARED_DATA:-$ROOT/../shared/data}
rm -rf "$CARRY"
mkdir -p "$CARRY/bin" "$CARRY/lib" "$CARRY/data/models/aidreams260K"
for b in tests/gpu/gpu_cuda_tests tests/gpu/gpu_decode_bench tests/gpu/gpu_batch_bench app/tokamak-cli; do
  if [ -f "$BUILD/$b" ]; then strip -o "$CARRY/bin/$(basename "$b")" "$BUILD/$b"; fi
done
# Shared libraries the GPU machine might lack (run.sh uses them only then).
for name in libfmt.so.9 libpcre2-8.so.0 libsentencepiece.so.0 libsqlite3.so.0; do
  p=$(ldconfig -p | awk -v n="$name" '$1 == n {print $NF; exit}')
  [ -n "$p" ] && cp -L "$p" "$CARRY/lib/$name"
done
cp "$DATA/models/aidreams260K/aidreams260K-llamacpp-f32.gguf" \
   "$DATA/models/aidreams260K/greedy_from_bos.txt" "$CARRY/data/models/aidreams260K/"
du -sh "$CARRY"; ls -la "$CARRY"/*
