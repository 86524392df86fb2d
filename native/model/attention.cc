// Causal grouped-query attention over packed segments (training path), on GEMMs.
//
// For each (segment, query head) and each chunk of up to kChunk query rows: S = scale * Q K^T over the keys up to
// the chunk's last row (sgemm), a causal row softmax, O = P V (sgemm). The forward saves only the per-(token, head)
// log-sum-exp; the backward recomputes P from Q, K and lse, so memory is O(chunk x keys) scratch instead of a saved
// n x n matrix per head (the FlashAttention recompute, at chunk rather than tile granularity). The loops over
// (segment, head, chunk) are serial and the GEMMs (split over the pool, common/blas.cc) and row passes inside are
// parallel: the backward's dK / dV accumulate over the query heads of a kv group and over the segments that share
// an ancestor, so (segment, head) parts running at once would add into the same rows.
//
// Segment trees (ops.h): a segment's keys are its ancestors' rows, root first, then its own rows; its query row i
// sees keys [0, A + i] where A is the ancestors' total length. When those rows are contiguous in the pack (a root,
// or [prefix][first child]) K and V are read in place; otherwise (the second child of a prefix) they are gathered
// into a scratch copy, and in the backward dK / dV of that copy are scattered back (added) into the ancestors'
// rows, so a shared prefix receives the gradient of every branch that reads it.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "common/parallel.h"
#include "ops.h"

namespace stepwise::model {

namespace {

constexpr int64_t kChunk = 128;  // query rows per GEMM: scratch is kChunk x (longest key chain) per buffer

struct Span {
  int64_t begin, len;
};

// The key rows segment s sees, as row spans from its root down to itself; returns the ancestors' total length.
int64_t key_spans(int64_t s, const int64_t* offsets, const int32_t* parents, std::vector<Span>& spans) {
  spans.clear();
  for (int64_t x = s; x >= 0; x = parents ? parents[x] : -1) spans.push_back({offsets[x], offsets[x + 1] - offsets[x]});
  std::reverse(spans.begin(), spans.end());
  int64_t prior = 0;
  for (size_t i = 0; i + 1 < spans.size(); ++i) prior += spans[i].len;
  return prior;
}

bool contiguous(const std::vector<Span>& spans) {
  for (size_t i = 1; i < spans.size(); ++i)
    if (spans[i].begin != spans[i - 1].begin + spans[i - 1].len) return false;
  return true;
}

int64_t max_keys(const int64_t* offsets, int64_t nseq, const int32_t* parents) {
  std::vector<Span> spans;
  int64_t m = 1;
  for (int64_t s = 0; s < nseq; ++s) m = std::max(m, key_spans(s, offsets, parents, spans) + offsets[s + 1] - offsets[s]);
  return m;
}

// Copies the rows of `spans` (row stride `width`) one after another into dst.
template <typename T>
void gather_rows(T* dst, const T* src, const std::vector<Span>& spans, int64_t width) {
  for (const Span& sp : spans) {
    std::memcpy(dst, src + sp.begin * width, size_t(sp.len * width) * sizeof(T));
    dst += sp.len * width;
  }
}

// The inverse of gather_rows for gradients: adds consecutive rows of src into the rows of `spans` in dst.
template <typename T>
void scatter_add_rows(T* dst, const T* src, const std::vector<Span>& spans, int64_t width) {
  for (const Span& sp : spans) {
    axpy(dst + sp.begin * width, T(1), src, sp.len * width);
    src += sp.len * width;
  }
}

}  // namespace

template <typename T>
void attention_forward(T* out, T* lse, const T* q, const T* k, const T* v, const int64_t* offsets, int64_t nseq,
                       AttnShape sh, const int32_t* parents) {
  const int64_t H = sh.heads, hd = sh.hd, group = sh.heads / sh.kv_heads;
  const int64_t qs = H * hd, ks = sh.kv_heads * hd;
  const T scale = T(1.0 / std::sqrt(double(hd)));
  const int64_t L = max_keys(offsets, nseq, parents), bq = std::min(kChunk, L);
  std::vector<T> S(size_t(bq * L)), kc, vc;
  std::vector<Span> spans;
  for (int64_t s = 0; s < nseq; ++s) {
    const int64_t a = offsets[s], n = offsets[s + 1] - a;
    const int64_t A = key_spans(s, offsets, parents, spans);  // keys [0, A) are the ancestors' rows
    const T *Kall = k + spans[0].begin * ks, *Vall = v + spans[0].begin * ks;
    if (!contiguous(spans)) {
      kc.resize(size_t((A + n) * ks));
      vc.resize(kc.size());
      gather_rows(kc.data(), k, spans, ks);
      gather_rows(vc.data(), v, spans, ks);
      Kall = kc.data(), Vall = vc.data();
    }
    for (int64_t h = 0; h < H; ++h) {
      const int64_t kvh = h / group;
      const T* K = Kall + kvh * hd;
      const T* V = Vall + kvh * hd;
      for (int64_t i0 = 0; i0 < n; i0 += bq) {
        const int64_t rows = std::min(bq, n - i0), cols = A + i0 + rows;  // keys [0, cols) cover every row's past
        gemm<T>(false, true, rows, cols, hd, scale, q + (a + i0) * qs + h * hd, qs, K, ks, T(0), S.data(), cols);
        parallel_for(rows, 8, [&](int64_t r0, int64_t r1) {
          for (int64_t r = r0; r < r1; ++r) {
            T* sr = S.data() + r * cols;
            const int64_t last = A + i0 + r;  // causal: keys [0, last]
            const T m = *std::max_element(sr, sr + last + 1);
            T sum = 0;
            for (int64_t j = 0; j <= last; ++j) sum += (sr[j] = std::exp(sr[j] - m));
            const T inv = T(1) / sum;
            for (int64_t j = 0; j <= last; ++j) sr[j] *= inv;
            std::fill(sr + last + 1, sr + cols, T(0));
            lse[(a + i0 + r) * H + h] = m + std::log(sum);
          }
        });
        gemm<T>(false, false, rows, hd, cols, T(1), S.data(), cols, V, ks, T(0), out + (a + i0) * qs + h * hd, qs);
      }
    }
  }
}

// With P = softmax rows, dP = dO V^T, D_i = dO_i . O_i:  dS = P * (dP - D) * scale,
// dQ = dS K,  dK += dS^T Q,  dV += P^T dO  (dK / dV accumulate over the query heads of a kv group and over every
// segment that reads the key row: its own segment and all its descendants).
template <typename T>
void attention_backward(T* dq, T* dk, T* dv, const T* dout, const T* out, const T* lse, const T* q, const T* k,
                        const T* v, const int64_t* offsets, int64_t nseq, AttnShape sh, const int32_t* parents) {
  const int64_t H = sh.heads, Hkv = sh.kv_heads, hd = sh.hd, group = H / Hkv;
  const int64_t qs = H * hd, ks = Hkv * hd, ntok = offsets[nseq];
  const T scale = T(1.0 / std::sqrt(double(hd)));
  const int64_t L = max_keys(offsets, nseq, parents), bq = std::min(kChunk, L);
  std::vector<T> P(size_t(bq * L)), dP(P.size()), kc, vc, dkc, dvc;
  std::vector<Span> spans;
  std::fill(dk, dk + ntok * ks, T(0));
  std::fill(dv, dv + ntok * ks, T(0));
  for (int64_t s = 0; s < nseq; ++s) {
    const int64_t a = offsets[s], n = offsets[s + 1] - a;
    const int64_t A = key_spans(s, offsets, parents, spans);
    const bool gathered = !contiguous(spans);
    const T *Kall = k + spans[0].begin * ks, *Vall = v + spans[0].begin * ks;
    T *dKall = dk + spans[0].begin * ks, *dVall = dv + spans[0].begin * ks;
    if (gathered) {
      kc.resize(size_t((A + n) * ks));
      vc.resize(kc.size());
      dkc.assign(kc.size(), T(0));
      dvc.assign(kc.size(), T(0));
      gather_rows(kc.data(), k, spans, ks);
      gather_rows(vc.data(), v, spans, ks);
      Kall = kc.data(), Vall = vc.data(), dKall = dkc.data(), dVall = dvc.data();
    }
    for (int64_t h = 0; h < H; ++h) {
      const int64_t kvh = h / group;
      const T* K = Kall + kvh * hd;
      const T* V = Vall + kvh * hd;
      for (int64_t i0 = 0; i0 < n; i0 += bq) {
        const int64_t rows = std::min(bq, n - i0), cols = A + i0 + rows;
        const T* Qc = q + (a + i0) * qs + h * hd;
        const T* dOc = dout + (a + i0) * qs + h * hd;
        gemm<T>(false, true, rows, cols, hd, scale, Qc, qs, K, ks, T(0), P.data(), cols);
        gemm<T>(false, true, rows, cols, hd, T(1), dOc, qs, V, ks, T(0), dP.data(), cols);
        parallel_for(rows, 8, [&](int64_t r0, int64_t r1) {
          for (int64_t r = r0; r < r1; ++r) {
            const int64_t last = A + i0 + r, t = a + i0 + r;
            T* pr = P.data() + r * cols;
            T* dpr = dP.data() + r * cols;
            const T l = lse[t * H + h];
            const T di = dot8(dOc + r * qs, out + t * qs + h * hd, hd);
            for (int64_t j = 0; j <= last; ++j) {
              pr[j] = std::exp(pr[j] - l);
              dpr[j] = pr[j] * (dpr[j] - di) * scale;
            }
            std::fill(pr + last + 1, pr + cols, T(0));
            std::fill(dpr + last + 1, dpr + cols, T(0));
          }
        });
        gemm<T>(false, false, rows, hd, cols, T(1), dP.data(), cols, K, ks, T(0), dq + (a + i0) * qs + h * hd, qs);
        gemm<T>(true, false, cols, hd, rows, T(1), dP.data(), cols, Qc, qs, T(1), dKall + kvh * hd, ks);
        gemm<T>(true, false, cols, hd, rows, T(1), P.data(), cols, dOc, qs, T(1), dVall + kvh * hd, ks);
      }
    }
    if (gathered) {
      scatter_add_rows(dk, dkc.data(), spans, ks);
      scatter_add_rows(dv, dvc.data(), spans, ks);
    }
  }
}

template void attention_forward<float>(float*, float*, const float*, const float*, const float*, const int64_t*,
                                       int64_t, AttnShape, const int32_t*);
template void attention_forward<double>(double*, double*, const double*, const double*, const double*,
                                        const int64_t*, int64_t, AttnShape, const int32_t*);
template void attention_backward<float>(float*, float*, float*, const float*, const float*, const float*,
                                        const float*, const float*, const float*, const int64_t*, int64_t, AttnShape,
                                        const int32_t*);
template void attention_backward<double>(double*, double*, double*, const double*, const double*, const double*,
                                         const double*, const double*, const double*, const int64_t*, int64_t,
                                         AttnShape, const int32_t*);

}  // namespace stepwise::model
