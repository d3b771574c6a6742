#include <cstdint>

#include "cuda/common.cuh"
#include "cuda/rope_kv_store.cuh"

namespace tokamak::cuda {
namespace {

constexpr int kThreads = 256;

// Item i of a head (i < head_dim - rope_dim/2): pair i while i < rope_dim/2
// ((a, b) -> (a cos - b sin, a sin + b cos), cpu::apply_rope's expressions),
// else the unrotated value rope_dim + (i - rope_dim/2). Reads `in` (+ bias),
// hands each result to store(index in the head, value).
template <class Store>
__device__ __forceinline__ void rope_item(const float* in, const float* bias, int32_t i,
                                          int32_t num_pairs, int32_t rope_dim, bool neox,
                                          const float2* cs, Store store) {
  if (i < num_pairs) {
    const int32_t ia = neox ? i : 2 * i, ib = neox ? i + num_pairs : 2 * i + 1;
    float a = in[ia], b = in[ib];
    if (bias) {
      a += bias[ia];
      b += bias[ib];
    }
    const float2 c = cs[i];
    store(ia, ib, a * c.x - b * c.y, a * c.y + b * c.x);
    return;
  }
  const int32_t d = rope_dim + (i - num_pairs);
  store(d, -1, bias ? in[d] + bias[d] : in[d], 0.0f);
}

// Grid (num_tokens, blocks over the token's items); per token the items are
//   q: num_heads x items of rope_item (pairs, then the unrotated values),
//      rotated in place (without biases the unrotated values stay as they are)
//   k: num_kv_heads x items of rope_item, stored as fp16 in the K pool
//   v: kv_dim / 2 pairs of values (8-byte loads, 4-byte stores) when v_pairs,
//      else kv_dim values
__global__ void __launch_bounds__(kThreads)
    rope_kv_store_kernel(PagedKv kv, RopeKvArgs a, bool v_pairs) {
  const int64_t t = blockIdx.x;
  const int32_t item = blockIdx.y * kThreads + threadIdx.x;
  const int32_t num_pairs = a.rope_dim / 2;
  const int32_t per_head = a.head_dim - num_pairs;
  const int32_t num_q = a.num_heads * per_head, num_k = a.num_kv_heads * per_head;
  const int32_t kv_dim = kv.kv_dim;
  const int32_t num_v = v_pairs ? kv_dim / 2 : kv_dim;
  const float2* cs = a.cos_sin + t * num_pairs;
  if (item < num_q) {
    const int32_t h = item / per_head, i = item % per_head;
    if (i >= num_pairs && !a.bq) return;
    float* head = a.q + (t * a.num_heads + h) * a.head_dim;
    const float* bias = a.bq ? a.bq + h * a.head_dim : nullptr;
    rope_item(head, bias, i, num_pairs, a.rope_dim, a.neox, cs,
              [&](int32_t ia, int32_t ib, float va, float vb) {
                head[ia] = va;
                if (ib >= 0) head[ib] = vb;
              });
    return;
  }
  const int32_t j = item - num_q;
  if (j >= num_k + num_v) return;
  const int32_t pos = kv.positions[t];
  const int64_t block = kv.tables[kv.table_start[kv.token_seq[t]] + pos / kv.block_size];
  const int64_t slot = (block * kv.block_size + pos % kv.block_size) * kv_dim;
  if (j < num_k) {
    const int32_t h = j / per_head, i = j % per_head;
    const float* head = a.k + t * kv_dim + h * a.head_dim;
    const float* bias = a.bk ? a.bk + h * a.head_dim : nullptr;
    __half* out = a.k_pool + slot + h * a.head_dim;
    const bool adjacent = !a.neox && (reinterpret_cast<uintptr_t>(out) & 3) == 0;
    rope_item(head, bias, i, num_pairs, a.rope_dim, a.neox, cs,
              [&](int32_t ia, int32_t ib, float va, float vb) {
                if (ib < 0) {
                  out[ia] = __float2half_rn(va);
                } else if (adjacent) {  // (2i, 2i + 1): one 4-byte store
                  *reinterpret_cast<__half2*>(out + ia) = __floats2half2_rn(va, vb);
                } else {
                  out[ia] = __float2half_rn(va);
                  out[ib] = __float2half_rn(vb);
                }
              });
    return;
  }
  const int32_t e = j - num_k;
  if (v_pairs) {
    float2 val = *reinterpret_cast<const float2*>(a.v + t * kv_dim + 2 * e);
    if (a.bv) {
      val.x += a.bv[2 * e];
      val.y += a.bv[2 * e + 1];
    }
    *reinterpret_cast<__half2*>(a.v_pool + slot + 2 * e) = __floats2half2_rn(val.x, val.y);
  } else {
    float val = a.v[t * kv_dim + e];
    if (a.bv) val += a.bv[e];
    a.v_pool[slot + e] = __float2half_rn(val);
  }
}

}  // namespace

cudaError_t launch_rope_kv_store(const PagedKv& kv, const RopeKvArgs& args, int64_t num_tokens,
                                 cudaStream_t stream) {
  if (args.rope_dim % 2 != 0 || args.rope_dim > args.head_dim || args.rope_dim < 0 ||
      kv.kv_dim != args.num_kv_heads * args.head_dim)
    return cudaErrorInvalidValue;
  if (num_tokens == 0) return cudaSuccess;
  const bool v_pairs = kv.kv_dim % 2 == 0 && (reinterpret_cast<uintptr_t>(args.v) & 7) == 0 &&
                       (reinterpret_cast<uintptr_t>(args.v_pool) & 3) == 0;
  const int64_t per_head = args.head_dim - args.rope_dim / 2;
  const int64_t items =
      (args.num_heads + args.num_kv_heads) * per_head + (v_pairs ? kv.kv_dim / 2 : kv.kv_dim);
  const dim3 grid(static_cast<unsigned>(num_tokens),
                  static_cast<unsigned>((items + kThreads - 1) / kThreads));
  rope_kv_store_kernel<<<grid, kThreads, 0, stream>>>(kv, args, v_pairs);
  return cudaGetLastError();
}

}  // namespace tokamak::cuda
