# Sourced by the GPU-machine scripts (run.sh, serve_bench.sh,
# batch_profile.sh) with their arguments CARRY OUT: sets CARRY (default
# gpu-carry), OUT (default $OUT or /tmp/gpu-out, created) and BIN, puts the
# carried shared libraries on the loader path where the machine lacks them,
# and finds cuBLAS where the toolkit put it.
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

