#include "convert/hf_tensor_map.h"

#include <fmt/format.h>

namespace tokamak {

std::vector<HfTensorPlan> plan_hf_tensors(const HfConfig& c) {
  const LlamaHParams& hp = c.hp;
  const int64_t dim = hp.dim, hidden = hp.hidden_dim, vocab = hp.vocab_size;
  const int64_t q_dim = hp.q_dim(), kv_dim = hp.kv_dim(), hd = hp.effective_head_dim();
  const int64_t permute = c.permute_qk ? hd : 0;
  std::vector<HfTensorPlan> plan;
  plan.push_back({"token_embd.weight", "model.embed_tokens.weight", {dim, vocab}, 0});
  plan.push_back({"output_norm.weight", "model.norm.weight", {dim}, 0});
  if (!c.tied_embeddings) plan.push_back({"output.weight", "lm_head.weight", {dim, vocab}, 0});
  for (int32_t l = 0; l < hp.num_layers; ++l) {
    const std::string g = fmt::format("blk.{}.", l);
    const std::string h = fmt::format("model.layers.{}.", l);
    plan.push_back({g + "attn_norm.weight", h + "input_layernorm.weight", {dim}, 0});
    plan.push_back({g + "attn_q.weight", h + "self_attn.q_proj.weight", {dim, q_dim}, permute});
    plan.push_back({g + "attn_k.weight", h + "self_attn.k_proj.weight", {dim, kv_dim}, permute});
    plan.push_back({g + "attn_v.weight", h + "self_attn.v_proj.weight", {dim, kv_dim}, 0});
    if (c.attn_bias) {
      plan.push_back({g + "attn_q.bias", h + "self_attn.q_proj.bias", {q_dim}, permute});
      plan.push_back({g + "attn_k.bias", h + "self_attn.k_proj.bias", {kv_dim}, permute});
      plan.push_back({g + "attn_v.bias", h + "self_attn.v_proj.bias", {kv_dim}, 0});
    }
    plan.push_back({g + "attn_output.weight", h + "self_attn.o_proj.weight", {q_dim, dim}, 0});
    plan.push_back({g + "ffn_norm.weight", h + "post_attention_layernorm.weight", {dim}, 0});
    plan.push_back({g + "ffn_gate.weight", h + "mlp.gate_proj.weight", {dim, hidden}, 0});
    plan.push_back({g + "ffn_down.weight", h + "mlp.down_proj.weight", {hidden, dim}, 0});
    plan.push_back({g + "ffn_up.weight", h + "mlp.up_proj.weight", {dim, hidden}, 0});
  }
  return plan;
}

bool is_ignored_hf_tensor(const std::string& hf_name) {
  return hf_name.find("rotary_emb.inv_freq") != std::string::npos;
}

}  // namespace tokamak
