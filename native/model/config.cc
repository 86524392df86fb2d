#include "config.h"

namespace stepwise::model {

void ModelConfig::validate() const {
  auto need = [](bool ok, const std::string& what) {
    if (!ok) throw ConfigError("config." + what);
  };
  need(vocab_size > 0, "vocabSize: expected a positive integer");
  need(hidden_size > 0, "hiddenSize: expected a positive integer");
  need(intermediate_size > 0, "intermediateSize: expected a positive integer");
  need(num_layers > 0, "numLayers: expected a positive integer");
  need(num_heads > 0, "numHeads: expected a positive integer");
  need(num_kv_heads > 0 && num_heads % num_kv_heads == 0,
       "numKvHeads: expected a positive divisor of numHeads");
  need(head_dim >= 0, "headDim: expected 0 (= hiddenSize / numHeads) or a positive integer");
  need(head_dim > 0 || hidden_size % num_heads == 0, "hiddenSize: expected a multiple of numHeads when headDim is 0");
  need(hd() % 2 == 0, "headDim: expected an even head dimension (RoPE rotates pairs)");
  need(max_seq_len > 0, "maxSeqLen: expected a positive integer");
  need(rope_theta > 0, "ropeTheta: expected a positive number");
  need(rms_norm_eps > 0, "rmsNormEps: expected a positive number");
  // Guard the int32 token ids and the single-buffer size against absurd configs before allocating.
  need(vocab_size < (int64_t(1) << 31), "vocabSize: expected < 2^31");
}

ParamLayout::ParamLayout(const ModelConfig& c) {
  const int64_t D = c.hidden_size, F = c.intermediate_size, V = c.vocab_size, Q = c.q_dim(), KV = c.kv_dim();
  auto add = [&](const std::string& name, std::vector<int64_t> shape, bool decay) {
    TensorInfo t;
    t.name = name;
    t.shape = std::move(shape);
    t.size = 1;
    for (int64_t s : t.shape) t.size *= s;
    t.offset = total;
    t.decay = decay;
    total += t.size;
    tensors.push_back(t);
    return t.offset;
  };
  embed = add("model.embed_tokens.weight", {V, D}, true);
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    LayerOffsets o{};
    o.ln1 = add(p + "input_layernorm.weight", {D}, false);
    o.wq = add(p + "self_attn.q_proj.weight", {Q, D}, true);
    o.bq = c.qkv_bias ? add(p + "self_attn.q_proj.bias", {Q}, false) : -1;
    o.wk = add(p + "self_attn.k_proj.weight", {KV, D}, true);
    o.bk = c.qkv_bias ? add(p + "self_attn.k_proj.bias", {KV}, false) : -1;
    o.wv = add(p + "self_attn.v_proj.weight", {KV, D}, true);
    o.bv = c.qkv_bias ? add(p + "self_attn.v_proj.bias", {KV}, false) : -1;
    o.wo = add(p + "self_attn.o_proj.weight", {D, Q}, true);
    o.ln2 = add(p + "post_attention_layernorm.weight", {D}, false);
    o.wgate = add(p + "mlp.gate_proj.weight", {F, D}, true);
    o.wup = add(p + "mlp.up_proj.weight", {F, D}, true);
    o.wdown = add(p + "mlp.down_proj.weight", {D, F}, true);
    layers.push_back(o);
  }
  final_norm = add("model.norm.weight", {D}, false);
  lm_head = c.tie_embeddings ? embed : add("lm_head.weight", {V, D}, true);
}

const TensorInfo* ParamLayout::find(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

}  // namespace stepwise::model
