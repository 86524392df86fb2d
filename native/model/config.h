// Model configuration for the Llama/Qwen2 family and the parameter layout: where every tensor lives inside the
// single contiguous parameter buffer (llm.c style: one allocation for params, one for grads).
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace stepwise::model {

// Thrown for an invalid configuration or an invalid argument; the napi layer maps it to a typed JS error.
struct ConfigError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

struct ModelConfig {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;        // d_model
  int64_t intermediate_size = 0;  // SwiGLU inner width
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;  // grouped-query attention: num_heads % num_kv_heads == 0
  int64_t head_dim = 0;      // 0 = hidden_size / num_heads
  int64_t max_seq_len = 0;   // longest sequence (RoPE table size, validation)
  double rope_theta = 10000.0;
  double rms_norm_eps = 1e-6;
  bool qkv_bias = false;          // Qwen2: true
  bool tie_embeddings = false;    // lm_head shares model.embed_tokens.weight

  int64_t hd() const { return head_dim > 0 ? head_dim : hidden_size / num_heads; }
  int64_t q_dim() const { return num_heads * hd(); }
  int64_t kv_dim() const { return num_kv_heads * hd(); }
  void validate() const;  // throws ConfigError naming the field
};

// One named tensor inside the flat parameter buffer. Shapes follow HF ([out, in] for linear weights).
struct TensorInfo {
  std::string name;  // HF name, e.g. model.layers.0.self_attn.q_proj.weight
  std::vector<int64_t> shape;
  int64_t offset = 0;  // in elements
  int64_t size = 0;
  bool decay = false;  // weight decay applies (matrices and embeddings; never norms or biases)
};

// Offsets of one layer's tensors (in elements from the start of the buffer); bias offsets are -1 when absent.
struct LayerOffsets {
  int64_t ln1, wq, wk, wv, bq, bk, bv, wo, ln2, wgate, wup, wdown;
};

struct ParamLayout {
  std::vector<TensorInfo> tensors;
  std::vector<LayerOffsets> layers;
  int64_t embed = 0, final_norm = 0, lm_head = 0;  // lm_head == embed when tied
  int64_t total = 0;
  explicit ParamLayout(const ModelConfig& c);
  ParamLayout() = default;
  const TensorInfo* find(const std::string& name) const;
};

}  // namespace stepwise::model
