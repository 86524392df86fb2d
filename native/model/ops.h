// Layer primitives of the engine, each a forward/backward pair templated on the float type T (float for
// training and inference, double for exact gradient checks). Row-major; a "row" is one token.
// Backward functions either overwrite their input gradient (accumulate = false) or add to it (true), and
// always ADD to parameter gradients, so gradient accumulation across backward calls is free.
#pragma once
#include <cstdint>

namespace stepwise::model {

// C = alpha op(A) op(B) + beta C, dispatched to sgemm / dgemm (common/blas.h).
template <typename T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
          int64_t ldb, T beta, T* c, int64_t ldc);

// y[n,out] = x[n,in] W^T (+ b) (+ y when accumulate). W is [out, in] (HF layout).
template <typename T>
void linear_forward(T* y, const T* x, const T* w, const T* b, int64_t n, int64_t in, int64_t out, bool accumulate);
// dx[n,in] (+)= dy W;  dW += dy^T x;  db += column sums of dy (db may be null). dx may be null.
template <typename T>
void linear_backward(T* dx, T* dw, T* db, const T* dy, const T* x, const T* w, int64_t n, int64_t in, int64_t out,
                     bool accumulate_dx);

// RMSNorm: y = x * rstd * w, rstd = 1 / sqrt(mean(x^2) + eps); rstd is saved per row for the backward.
template <typename T>
void rmsnorm_forward(T* y, T* rstd, const T* x, const T* w, int64_t n, int64_t d, double eps);
template <typename T>
void rmsnorm_backward(T* dx, T* dw, const T* dy, const T* x, const T* w, const T* rstd, int64_t n, int64_t d,
                      bool accumulate_dx);

// RoPE tables: cos/sin[pos * half + i] = cos/sin(pos * theta^(-2i/hd)), computed in double.
template <typename T>
void rope_tables(T* cos_t, T* sin_t, int64_t max_pos, int64_t hd, double theta);
// In place on x[n, heads*hd] (HF rotate_half pairing: i with i + hd/2). inverse = rotate by -angle, which is
// the backward (the rotation is orthogonal).
template <typename T>
void rope_apply(T* x, int64_t n, int64_t heads, int64_t hd, const int32_t* pos, const T* cos_t, const T* sin_t,
                bool inverse);

// SwiGLU: h = silu(g) * u.
template <typename T>
void swiglu_forward(T* h, const T* g, const T* u, int64_t count);
template <typename T>
void swiglu_backward(T* dg, T* du, const T* dh, const T* g, const T* u, int64_t count);

// Causal grouped-query attention over packed segments: segment s covers rows [offsets[s], offsets[s+1]).
// parents (nullptr = every segment a root) makes the segments a forest: parents[s] = -1 (root) or an EARLIER
// segment, and a token of s attends to every token of its ancestors (parent, grandparent, ...) and causally to
// the earlier tokens of s; it never sees a sibling. A step pair packs as [prefix][chosen][rejected] with both
// completions children of the prefix, so the prefix is computed once. q [n, H*hd], k/v [n, Hkv*hd] (RoPE
// applied with positions that continue after the ancestors), out [n, H*hd], lse [n, H] saved (softmax
// log-sum-exp) so the backward recomputes probabilities instead of storing the n x n matrix.
struct AttnShape {
  int64_t heads, kv_heads, hd;
};
template <typename T>
void attention_forward(T* out, T* lse, const T* q, const T* k, const T* v, const int64_t* offsets, int64_t nseq,
                       AttnShape s, const int32_t* parents = nullptr);
// dq, dk, dv are overwritten; a prefix's dk / dv sum the contributions of all its descendants.
template <typename T>
void attention_backward(T* dq, T* dk, T* dv, const T* dout, const T* out, const T* lse, const T* q, const T* k,
                        const T* v, const int64_t* offsets, int64_t nseq, AttnShape s,
                        const int32_t* parents = nullptr);

// The output head on hidden rows, chunked so [n, V] logits are never stored whole. Token t with target < 0 is
// ignored (logp 0, grad 0); step_index[t] in [-1, num_steps) adds its logp to step_sum (nullptr = no steps).
struct HeadArgs {
  int64_t n, d, v;
  const int32_t* targets;
  const int32_t* step_index;
  int64_t num_steps;
};
template <typename T>
void head_forward(const T* hidden, const T* w, const HeadArgs& a, T* token_logp, T* step_sum, T* lse);
// dhidden overwritten; dw accumulated.
template <typename T>
void head_backward(const T* hidden, const T* w, const HeadArgs& a, const T* lse, const T* grad_token,
                   const T* grad_step, T* dhidden, T* dw);
// float is specialised onto the shared kernel (kernels.h step_logprob_hidden_*), double is the plain reference.
template <>
void head_forward<float>(const float* hidden, const float* w, const HeadArgs& a, float* token_logp, float* step_sum,
                         float* lse);
template <>
void head_backward<float>(const float* hidden, const float* w, const HeadArgs& a, const float* lse,
                          const float* grad_token, const float* grad_step, float* dhidden, float* dw);

// Dot product with 8 independent partial sums: the compiler vectorises it (SLP) without -ffast-math, which a
// single running sum would forbid (fp addition is not associative). Used by both attention paths.
template <typename T>
inline T dot8(const T* a, const T* b, int64_t n) {
  T acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int u = 0; u < 8; ++u) acc[u] += a[i + u] * b[i + u];
  T s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// y += a * x over n elements; __restrict lets the compiler vectorise without runtime alias checks.
template <typename T>
inline void axpy(T* __restrict y, T a, const T* __restrict x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

}  // namespace stepwise::model
