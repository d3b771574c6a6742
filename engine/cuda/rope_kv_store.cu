#include "cuda/common.cuh"
#include "cuda/rope_kv_store.cuh"

namespace tokamak::cuda {
namespace {

constexpr int kThreads = 256;

// The rotated value of a pair's member: first (a cos - b sin), second
// (a sin + b cos), the expressions of cpu::apply_rope.
__device__ __forceinline__ float rotate(float a, float b, float2 cs, bool second) {
  return second ? a * cs.y + b * cs.x : a * cs.x - b * cs.y;
}

// Grid (num_tokens, blocks over the token's items); per token the items are
//   q: num_heads x (rope_dim/2 pairs, then head_dim - rope_dim unrotated values)
//   k: kv_dim values, v: kv_dim values (one thread per value, so that the
//      pool writes of a warp are contiguous; k is only read, so both members
//      of a pair may be computed by different threads).
__global__ void __launch_bounds__(kThreads) rope_kv_store_kernel(PagedKv kv, RopeKvArgs a) {
  const int64_t t = blockIdx.x;
  const int32_t item = blockIdx.y * kThreads + threadIdx.x;
  const int32_t num_pairs = a.rope_dim / 2;
  const int32_t q_per_head = a.head_dim - num_pairs;
  const int32_t num_q = a.num_heads * q_per_head;
  const int32_t kv_dim = kv.kv_dim;
  const float2* cs = a.cos_sin + t * num_pairs;
  if (item < num_q) {
    const int32_t h = item / q_per_head, i = item % q_per_head;
    float* head = a.q + (t * a.num_heads + h) * a.head_dim;
    const float* bias = a.bq ? a.bq + h * a.head_dim : nullptr;
    if (i < num_pairs) {
      const int32_t ia = a.neox ? i : 2 * i, ib = a.neox ? i + num_pairs : 2 * i + 1;
      float va = head[ia], vb = head[ib];
      if (bias) {
        va += bias[ia];
        vb += bias[ib];
      }
      head[ia] = rotate(va, vb, cs[i], false);
      head[ib] = rotate(va, vb, cs[i], true);
    } else if (bias) {
      const int32_t d = a.rope_dim + (i - num_pairs);
      head[d] += bias[d];
    }
    return;
  }
  const int32_t j = item - num_q;  // value j of k (j < kv_dim) or of v
  if (j >= 2 * kv_dim) return;
  const int32_t pos = kv.positions[t];
  const int64_t block = kv.tables[kv.table_start[kv.token_seq[t]] + pos / kv.block_size];
  const int64_t slot = (block * kv.block_size + pos % kv.block_size) * kv_dim;
  if (j >= kv_dim) {
    const int32_t e = j - kv_dim;
    float val = a.v[t * kv_dim + e];
    if (a.bv) val += a.bv[e];
    a.v_pool[slot + e] = __float2half_rn(val);
    return;
  }
  const float* row = a.k + t * kv_dim;
  const int32_t d = j % a.head_dim, head0 = j - d;
  float val;
  if (d < a.rope_dim) {
    bool second;
    int32_t i, da;
    if (a.neox) {
      second = d >= num_pairs;
      i = second ? d - num_pairs : d;
      da = i;
    } else {
      second = d & 1;
      i = d / 2;
      da = 2 * i;
    }
    const int32_t db = a.neox ? da + num_pairs : da + 1;
    float va = row[head0 + da], vb = row[head0 + db];
    if (a.bk) {
      va += a.bk[head0 + da];
      vb += a.bk[head0 + db];
    }
    val = rotate(va, vb, cs[i], second);
  } else {
    val = row[j];
    if (a.bk) val += a.bk[j];
  }
  a.k_pool[slot + j] = __float2half_rn(val);
}

}  // namespace

cudaError_t launch_rope_kv_store(const PagedKv& kv, const RopeKvArgs& args, int64_t num_tokens,
                                 cudaStream_t stream) {
  if (args.rope_dim % 2 != 0 || args.rope_dim > args.head_dim || args.rope_dim < 0 ||
      kv.kv_dim != args.num_kv_heads * args.head_dim)
    return cudaErrorInvalidValue;
  if (num_tokens == 0) return cudaSuccess;
  const int64_t items =
      static_cast<int64_t>(args.num_heads) * (args.head_dim - args.rope_dim / 2) + 2 * kv.kv_dim;
  const dim3 grid(static_cast<unsigned>(num_tokens),
                  static_cast<unsigned>((items + kThreads - 1) / kThreads));
  rope_kv_store_kernel<<<grid, kThreads, 0, stream>>>(kv, args);
  return cudaGetLastError();
}

}  // namespace tokamak::cuda
