/**
 * Model configuration (Llama / Qwen2 family) with every default, and the HF `config.json` mapping.
 */
import { ConfigError } from './errors.js';

export interface ModelConfig {
  /** Vocabulary size V (token ids are in [0, V)). Required. */
  vocabSize: number;
  /** Model width d_model. Required. */
  hiddenSize: number;
  /** SwiGLU inner width. Required. */
  intermediateSize: number;
  /** Number of transformer blocks. Required. */
  numLayers: number;
  /** Query heads. Required. */
  numHeads: number;
  /** Key/value heads (grouped-query attention; must divide numHeads). Default: numHeads (multi-head). */
  numKvHeads?: number;
  /** Per-head width. Default: hiddenSize / numHeads. Must be even (RoPE). */
  headDim?: number;
  /** Longest sequence (the RoPE table; longer sequences throw SequenceTooLongError). Default: 2048. */
  maxSeqLen?: number;
  /** RoPE base. Default: 10000 (Llama 2); Qwen2 uses 1000000. */
  ropeTheta?: number;
  /** RMSNorm epsilon. Default: 1e-6. */
  rmsNormEps?: number;
  /** Biases on the q/k/v projections (Qwen2). Default: false. */
  qkvBias?: boolean;
  /** The LM head shares the token embedding. Default: false. */
  tieEmbeddings?: boolean;
  /** Architecture written to config.json. Default: 'qwen2' when qkvBias, else 'llama'. */
  architecture?: 'llama' | 'qwen2';
}

export type ResolvedModelConfig = Required<ModelConfig>;

const isPosInt = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x > 0;

/** Fills the defaults and validates; throws ConfigError naming the field. */
export function resolveConfig(c: ModelConfig): ResolvedModelConfig {
  if (typeof c !== 'object' || c === null) throw new ConfigError('config: expected an object');
  for (const k of ['vocabSize', 'hiddenSize', 'intermediateSize', 'numLayers', 'numHeads'] as const)
    if (!isPosInt(c[k])) throw new ConfigError(`config.${k}: expected a positive integer, got ${String(c[k])}`);
  const numKvHeads = c.numKvHeads ?? c.numHeads;
  if (!isPosInt(numKvHeads) || c.numHeads % numKvHeads !== 0)
    throw new ConfigError(`config.numKvHeads: expected a positive divisor of numHeads (${c.numHeads}), got ${String(numKvHeads)}`);
  if (c.headDim === undefined && c.hiddenSize % c.numHeads !== 0)
    throw new ConfigError('config.hiddenSize: expected a multiple of numHeads when headDim is not given');
  const headDim = c.headDim ?? c.hiddenSize / c.numHeads;
  if (!isPosInt(headDim) || headDim % 2 !== 0) throw new ConfigError(`config.headDim: expected a positive even integer, got ${String(headDim)}`);
  const maxSeqLen = c.maxSeqLen ?? 2048;
  if (!isPosInt(maxSeqLen)) throw new ConfigError(`config.maxSeqLen: expected a positive integer, got ${String(maxSeqLen)}`);
  const ropeTheta = c.ropeTheta ?? 10000;
  if (!(typeof ropeTheta === 'number' && ropeTheta > 0)) throw new ConfigError('config.ropeTheta: expected a positive number');
  const rmsNormEps = c.rmsNormEps ?? 1e-6;
  if (!(typeof rmsNormEps === 'number' && rmsNormEps > 0)) throw new ConfigError('config.rmsNormEps: expected a positive number');
  if (c.vocabSize >= 2 ** 31) throw new ConfigError('config.vocabSize: expected < 2^31');
  const qkvBias = c.qkvBias ?? false;
  const architecture = c.architecture ?? (qkvBias ? 'qwen2' : 'llama');
  if (architecture !== 'llama' && architecture !== 'qwen2') throw new ConfigError("config.architecture: expected 'llama' or 'qwen2'");
  if (architecture === 'llama' && qkvBias)
    throw new ConfigError("config.qkvBias: HF Llama's attention_bias also adds an o_proj bias; use architecture 'qwen2' for q/k/v biases");
  return {
    vocabSize: c.vocabSize,
    hiddenSize: c.hiddenSize,
    intermediateSize: c.intermediateSize,
    numLayers: c.numLayers,
    numHeads: c.numHeads,
    numKvHeads,
    headDim,
    maxSeqLen,
    ropeTheta,
    rmsNormEps,
    qkvBias,
    tieEmbeddings: c.tieEmbeddings ?? false,
    architecture,
  };
}

/** The HF `config.json` object (LlamaForCausalLM / Qwen2ForCausalLM fields). */
export function toHfConfig(c: ResolvedModelConfig, torchDtype: 'float32' | 'bfloat16'): Record<string, unknown> {
  const common = {
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    head_dim: c.headDim,
    max_position_embeddings: c.maxSeqLen,
    rope_theta: c.ropeTheta,
    rms_norm_eps: c.rmsNormEps,
    tie_word_embeddings: c.tieEmbeddings,
    hidden_act: 'silu',
    initializer_range: 0.02,
    rope_scaling: null,
    torch_dtype: torchDtype,
    use_cache: true,
  };
  return c.architecture === 'qwen2'
    ? { architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', ...common, use_sliding_window: false }
    : { architectures: ['LlamaForCausalLM'], model_type: 'llama', ...common, attention_bias: false, mlp_bias: false };
}

/** Reads an HF config.json object (llama or qwen2); throws ConfigError for features this engine lacks. */
export function fromHfConfig(j: Record<string, unknown>): ResolvedModelConfig {
  const type = j.model_type;
  if (type !== 'llama' && type !== 'qwen2')
    throw new ConfigError(`config.json model_type: expected 'llama' or 'qwen2', got ${JSON.stringify(type)}`);
  if (j.rope_scaling !== undefined && j.rope_scaling !== null)
    throw new ConfigError('config.json rope_scaling: expected null (scaled RoPE is not implemented)');
  if (j.hidden_act !== undefined && j.hidden_act !== 'silu')
    throw new ConfigError(`config.json hidden_act: expected 'silu', got ${JSON.stringify(j.hidden_act)}`);
  if (type === 'llama' && (j.attention_bias === true || j.mlp_bias === true))
    throw new ConfigError('config.json attention_bias/mlp_bias: expected false for llama');
  if (type === 'qwen2' && j.use_sliding_window === true)
    throw new ConfigError('config.json use_sliding_window: expected false (sliding-window attention is not implemented)');
  const num = (k: string, fallback?: number): number => {
    const v = j[k] ?? fallback;
    if (typeof v !== 'number') throw new ConfigError(`config.json ${k}: expected a number`);
    return v;
  };
  const heads = num('num_attention_heads');
  return resolveConfig({
    vocabSize: num('vocab_size'),
    hiddenSize: num('hidden_size'),
    intermediateSize: num('intermediate_size'),
    numLayers: num('num_hidden_layers'),
    numHeads: heads,
    numKvHeads: num('num_key_value_heads', heads),
    headDim: typeof j.head_dim === 'number' ? j.head_dim : undefined,
    maxSeqLen: num('max_position_embeddings', 2048),
    ropeTheta: num('rope_theta', 10000),
    rmsNormEps: num('rms_norm_eps', 1e-6),
    qkvBias: type === 'qwen2',
    tieEmbeddings: j.tie_word_embeddings === true,
    architecture: type,
  });
}
