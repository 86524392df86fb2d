"""An independent numpy transcription of HF transformers' LlamaForCausalLM / Qwen2ForCausalLM forward
(modeling_llama.py: LlamaRMSNorm, LlamaRotaryEmbedding + rotate_half, repeat_kv, eager attention with a causal
mask, LlamaMLP), reading a checkpoint directory (config.json + model.safetensors, F32 or BF16).
Usage: python3 hf_reference.py DIR TOKENS_JSON  -> prints the logits [n, V] as JSON on stdout."""
import json
import struct
import sys

import numpy as np


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        raw = data[b:end]
        if e["dtype"] == "F32":
            a = np.frombuffer(raw, dtype="<f4").astype(np.float64)
        elif e["dtype"] == "BF16":
            a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32).astype(np.float64)
        else:
            raise ValueError(e["dtype"])
        out[name] = a.reshape(e["shape"])
    return out


def rms_norm(x, w, eps):
    var = np.mean(x * x, axis=-1, keepdims=True)
    return w * (x / np.sqrt(var + eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return np.concatenate([-x[..., h:], x[..., :h]], axis=-1)


def main():
    d, toks = sys.argv[1], json.loads(sys.argv[2])
    c = json.load(open(f"{d}/config.json"))
    W = load_safetensors(f"{d}/model.safetensors")
    H, Hkv = c["num_attention_heads"], c["num_key_value_heads"]
    hd = c.get("head_dim") or c["hidden_size"] // H
    eps, n = c["rms_norm_eps"], len(toks)
    inv_freq = 1.0 / (c["rope_theta"] ** (np.arange(0, hd, 2, dtype=np.float64) / hd))
    freqs = np.outer(np.arange(n, dtype=np.float64), inv_freq)
    emb = np.concatenate([freqs, freqs], axis=-1)
    cos, sin = np.cos(emb)[:, None, :], np.sin(emb)[:, None, :]
    x = W["model.embed_tokens.weight"][toks]
    mask = np.triu(np.full((n, n), -np.inf), 1)
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = rms_norm(x, W[p + "input_layernorm.weight"], eps)
        def proj(name):
            y = h @ W[p + f"self_attn.{name}.weight"].T
            b = W.get(p + f"self_attn.{name}.bias")
            return y if b is None else y + b
        q = proj("q_proj").reshape(n, H, hd)
        k = proj("k_proj").reshape(n, Hkv, hd)
        v = proj("v_proj").reshape(n, Hkv, hd)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = np.repeat(k, H // Hkv, axis=1)  # repeat_kv: head i uses kv head i // n_rep
        v = np.repeat(v, H // Hkv, axis=1)
        s = np.einsum("ihd,jhd->hij", q, k) / np.sqrt(hd) + mask
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        a = np.einsum("hij,jhd->ihd", s, v).reshape(n, H * hd)
        x = x + a @ W[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, W[p + "post_attention_layernorm.weight"], eps)
        g = h @ W[p + "mlp.gate_proj.weight"].T
        u = h @ W[p + "mlp.up_proj.weight"].T
        x = x + ((g / (1 + np.exp(-g))) * u) @ W[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, W["model.norm.weight"], eps)
    head = W.get("lm_head.weight", W["model.embed_tokens.weight"]) if not c.get("tie_word_embeddings") else W["model.embed_tokens.weight"]
    json.dump((x @ head.T).tolist(), sys.stdout)


main()
