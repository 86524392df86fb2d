// GEMM for the from-hidden path: C[M,N] = alpha * op(A) op(B) + beta * C, row-major, fp32 accumulation.
// With cuBLAS (STEPWISE_HAVE_CUBLAS) it is cublasGemmEx with CUBLAS_COMPUTE_32F (tensor cores for bf16, no
// TF32 for fp32). Without it (this build machine ships only cudart) it is our own tiled SIMT kernel, which
// accepts mixed fp32/bf16 operands so the fp32 dlogits chunk can meet a bf16 weight without a conversion.
// Own kernels: a WMMA tensor-core kernel when an operand is bf16 (sm_80+), and an exact fp32 SIMT kernel for
// fp32 x fp32. Both are straightforward (no async copies, no pipelining): a portable fallback well under
// cuBLAS, not the fast path (docs/kernels-gpu.md says what remains to do).
#include <mutex>
#include <string>

#include "internal.cuh"

#ifndef STEPWISE_HAVE_CUBLAS
#include <mma.h>
#endif
#ifdef STEPWISE_HAVE_CUBLAS
#include <cublas_v2.h>

#include <map>
#endif

namespace stepwise::gpu {
namespace {

#ifndef STEPWISE_HAVE_CUBLAS
// 128x128 output tile per block, 8-deep K slices, 256 threads each owning an 8x8 register tile split in
// two 4-wide halves (rows ty*4 and 64+ty*4): the float4 shared-memory reads of a warp then hit distinct
// banks or broadcast, and every loaded value is used 8 times from registers.
constexpr int kBM = 128, kBN = 128, kBK = 8, kThreads = 256;

template <class TA, class TB, bool kATrans, bool kBTrans>
__global__ void __launch_bounds__(kThreads, 2) sgemm_kernel(const TA* __restrict__ A, const TB* __restrict__ B,
                                                         float* __restrict__ C, int64_t M, int64_t N, int64_t K,
                                                         float alpha, float beta) {
  __shared__ alignas(16) float As[kBK][kBM];
  __shared__ alignas(16) float Bs[kBK][kBN];
  const int t = threadIdx.x;
  const int tx = t % 16, ty = t / 16;
  const int64_t m0 = static_cast<int64_t>(blockIdx.y) * kBM, n0 = static_cast<int64_t>(blockIdx.x) * kBN;
  float acc[8][8] = {};

  for (int64_t k0 = 0; k0 < K; k0 += kBK) {
    // Each thread stages 4 elements of each operand. The index split puts the stored-contiguous dimension
    // on consecutive threads, so the global loads coalesce whatever the transposition.
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      const int idx = t + r * kThreads;
      int mm, kk;
      if (kATrans) mm = idx % kBM, kk = idx / kBM;  // stored [K, M]: contiguous in m
      else kk = idx % kBK, mm = idx / kBK;          // stored [M, K]: contiguous in k
      const int64_t gm = m0 + mm, gk = k0 + kk;
      float v = 0.f;
      if (gm < M && gk < K) v = to_f32(kATrans ? A[gk * M + gm] : A[gm * K + gk]);
      As[kk][mm] = v;
      int nn;
      if (kBTrans) kk = idx % kBK, nn = idx / kBK;  // stored [N, K]: contiguous in k
      else nn = idx % kBN, kk = idx / kBN;          // stored [K, N]: contiguous in n
      const int64_t gn = n0 + nn, gk2 = k0 + kk;
      float w = 0.f;
      if (gn < N && gk2 < K) w = to_f32(kBTrans ? B[gn * K + gk2] : B[gk2 * N + gn]);
      Bs[kk][nn] = w;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kBK; ++kk) {
      float a[8], b[8];
      const float4 a0 = *reinterpret_cast<const float4*>(&As[kk][ty * 4]);
      const float4 a1 = *reinterpret_cast<const float4*>(&As[kk][64 + ty * 4]);
      const float4 b0 = *reinterpret_cast<const float4*>(&Bs[kk][tx * 4]);
      const float4 b1 = *reinterpret_cast<const float4*>(&Bs[kk][64 + tx * 4]);
      a[0] = a0.x, a[1] = a0.y, a[2] = a0.z, a[3] = a0.w, a[4] = a1.x, a[5] = a1.y, a[6] = a1.z, a[7] = a1.w;
      b[0] = b0.x, b[1] = b0.y, b[2] = b0.z, b[3] = b0.w, b[4] = b1.x, b[5] = b1.y, b[6] = b1.z, b[7] = b1.w;
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }

#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const int64_t gm = m0 + (i < 4 ? ty * 4 + i : 64 + ty * 4 + (i - 4));
    if (gm >= M) continue;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const int64_t gn = n0 + (j < 4 ? tx * 4 + j : 64 + tx * 4 + (j - 4));
      if (gn >= N) continue;
      float* c = C + gm * N + gn;
      *c = beta == 0.f ? alpha * acc[i][j] : fmaf(alpha, acc[i][j], beta * *c);  // beta = 0: C may be garbage
    }
  }
}

template <class TA, class TB>
void launch_sgemm(const GemmArgs& g) {
  const dim3 grid(static_cast<unsigned>((g.n + kBN - 1) / kBN), static_cast<unsigned>((g.m + kBM - 1) / kBM));
  if ((g.m + kBM - 1) / kBM > 65535) throw std::runtime_error("gemm: M too large for the grid");
  const TA* a = static_cast<const TA*>(g.a);
  const TB* b = static_cast<const TB*>(g.b);
  if (g.a_trans) {
    if (g.b_trans) sgemm_kernel<TA, TB, true, true><<<grid, kThreads>>>(a, b, g.c, g.m, g.n, g.k, g.alpha, g.beta);
    else sgemm_kernel<TA, TB, true, false><<<grid, kThreads>>>(a, b, g.c, g.m, g.n, g.k, g.alpha, g.beta);
  } else {
    if (g.b_trans) sgemm_kernel<TA, TB, false, true><<<grid, kThreads>>>(a, b, g.c, g.m, g.n, g.k, g.alpha, g.beta);
    else sgemm_kernel<TA, TB, false, false><<<grid, kThreads>>>(a, b, g.c, g.m, g.n, g.k, g.alpha, g.beta);
  }
  check_launch("gemm kernel");
}
// Tensor-core path (sm_80+) when either operand is bf16: WMMA m16n16k16 bf16 x bf16 -> fp32. Operands are
// converted to bf16 while staged in shared memory, so an fp32 dlogits chunk meets a bf16 weight at the
// precision cuBLAS would see after the bf16 copy Liger and QuACK make. bf16 x bf16 products are exact in
// fp32, so the forward logits of a bf16 model lose nothing. Block tile 128x128, K slice 32, 8 warps as
// 2 (M) x 4 (N), each warp 64x32 = 4x2 fragments.
constexpr int kWK = 32, kLdA = kWK + 8, kLdB = kBN + 8;  // +8 bf16 padding: fewer bank conflicts, 32-B rows kept

template <class TA, class TB, bool kATrans, bool kBTrans>
__global__ void __launch_bounds__(kThreads) wmma_gemm_kernel(const TA* __restrict__ A, const TB* __restrict__ B,
                                                             float* __restrict__ C, int64_t M, int64_t N,
                                                             int64_t K, float alpha, float beta) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
  using namespace nvcuda;
  __shared__ alignas(32) __nv_bfloat16 As[kBM * kLdA];
  __shared__ alignas(32) __nv_bfloat16 Bs[kWK * kLdB];
  __shared__ alignas(32) float stage[kThreads / 32][16 * 16];
  const int t = threadIdx.x, warp = t / 32, lane = t % 32;
  const int wm = warp / 4, wn = warp % 4;  // warp tile origin: (wm * 64, wn * 32)
  const int64_t m0 = static_cast<int64_t>(blockIdx.y) * kBM, n0 = static_cast<int64_t>(blockIdx.x) * kBN;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[4][2];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.f);

  for (int64_t k0 = 0; k0 < K; k0 += kWK) {
    // 4096 elements of each operand per slice, 16 per thread; the stored-contiguous dimension runs across
    // consecutive threads so the global loads coalesce.
#pragma unroll 4
    for (int r = 0; r < (kBM * kWK) / kThreads; ++r) {
      const int idx = t + r * kThreads;
      int mm, kk;
      if (kATrans) mm = idx % kBM, kk = idx / kBM;
      else kk = idx % kWK, mm = idx / kWK;
      const int64_t gm = m0 + mm, gk = k0 + kk;
      const float v = (gm < M && gk < K) ? to_f32(kATrans ? A[gk * M + gm] : A[gm * K + gk]) : 0.f;
      As[mm * kLdA + kk] = __float2bfloat16_rn(v);
      int nn;
      if (kBTrans) kk = idx % kWK, nn = idx / kWK;
      else nn = idx % kBN, kk = idx / kBN;
      const int64_t gn = n0 + nn, gk2 = k0 + kk;
      const float w = (gn < N && gk2 < K) ? to_f32(kBTrans ? B[gn * K + gk2] : B[gk2 * N + gn]) : 0.f;
      Bs[kk * kLdB + nn] = __float2bfloat16_rn(w);
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kWK; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> fa[4];
      wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major> fb[2];
#pragma unroll
      for (int i = 0; i < 4; ++i) wmma::load_matrix_sync(fa[i], As + (wm * 64 + i * 16) * kLdA + kk, kLdA);
#pragma unroll
      for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(fb[j], Bs + kk * kLdB + wn * 32 + j * 16, kLdB);
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
    }
    __syncthreads();
  }
  // Epilogue through a per-warp 16x16 staging tile: bounds checks and alpha/beta need element access.
  float* st = stage[warp];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      wmma::store_matrix_sync(st, acc[i][j], 16, wmma::mem_row_major);
      __syncwarp();
      for (int e = lane; e < 256; e += 32) {
        const int64_t gm = m0 + wm * 64 + i * 16 + e / 16, gn = n0 + wn * 32 + j * 16 + e % 16;
        if (gm < M && gn < N) {
          float* c = C + gm * N + gn;
          *c = beta == 0.f ? alpha * st[e] : fmaf(alpha, st[e], beta * *c);
        }
      }
      __syncwarp();
    }
#else
  __trap();  // never launched: the host picks the SIMT kernel below compute capability 8.0
#endif
}

template <class TA, class TB>
void launch_wmma(const GemmArgs& g) {
  const dim3 grid(static_cast<unsigned>((g.n + kBN - 1) / kBN), static_cast<unsigned>((g.m + kBM - 1) / kBM));
  if ((g.m + kBM - 1) / kBM > 65535) throw std::runtime_error("gemm: M too large for the grid");
  const TA* a = static_cast<const TA*>(g.a);
  const TB* b = static_cast<const TB*>(g.b);
  if (g.a_trans) {
    if (g.b_trans) wmma_gemm_kernel<TA, TB, true, true><<<grid, kThreads>>>(a, b, g.c, g.m, g.n, g.k, g.alpha, g.beta);
    else wmma_gemm_kernel<TA, TB, true, false><<<grid, kThreads>>>(a, b, g.c, g.m, g.n, g.k, g.alpha, g.beta);
  } else {
    if (g.b_trans) wmma_gemm_kernel<TA, TB, false, true><<<grid, kThreads>>>(a, b, g.c, g.m, g.n, g.k, g.alpha, g.beta);
    else wmma_gemm_kernel<TA, TB, false, false><<<grid, kThreads>>>(a, b, g.c, g.m, g.n, g.k, g.alpha, g.beta);
  }
  check_launch("gemm (wmma) kernel");
}

bool tensor_cores() {
  int dev = 0, major = 0;
  STEPWISE_CUDA_CHECK(cudaGetDevice(&dev));
  STEPWISE_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
  return major >= 8;
}
#else
// One cuBLAS handle per device, created on first use (creation costs milliseconds; never per call).
cublasHandle_t cublas_handle() {
  static std::mutex mu;
  static std::map<int, cublasHandle_t>* handles = new std::map<int, cublasHandle_t>;  // leaked: no teardown order
  int dev = 0;
  STEPWISE_CUDA_CHECK(cudaGetDevice(&dev));
  std::lock_guard<std::mutex> lk(mu);
  auto it = handles->find(dev);
  if (it != handles->end()) return it->second;
  cublasHandle_t h = nullptr;
  const cublasStatus_t st = cublasCreate(&h);
  if (st != CUBLAS_STATUS_SUCCESS) throw std::runtime_error(std::string("cublasCreate: ") + cublasGetStatusString(st));
  (*handles)[dev] = h;
  return h;
}
cudaDataType_t cuda_type(DType t) { return t == DType::BF16 ? CUDA_R_16BF : CUDA_R_32F; }
#endif

}  // namespace

bool gemm_needs_same_types() {
#ifdef STEPWISE_HAVE_CUBLAS
  return true;
#else
  return false;
#endif
}

void gemm(const GemmArgs& g) {
  if (g.m <= 0 || g.n <= 0) return;
#ifdef STEPWISE_HAVE_CUBLAS
  if (g.a_type != g.b_type) throw std::runtime_error("gemm: cuBLAS path needs operands of one dtype");
  if (g.m > 0x7fffffffLL || g.n > 0x7fffffffLL || g.k > 0x7fffffffLL) throw std::runtime_error("gemm: dimension over 2^31");
  // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: swap the operands, keep the flags.
  const int m = static_cast<int>(g.m), n = static_cast<int>(g.n), k = static_cast<int>(g.k);
  const cublasStatus_t st = cublasGemmEx(
      cublas_handle(), g.b_trans ? CUBLAS_OP_T : CUBLAS_OP_N, g.a_trans ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k,
      &g.alpha, g.b, cuda_type(g.b_type), g.b_trans ? k : n, g.a, cuda_type(g.a_type), g.a_trans ? m : k, &g.beta,
      g.c, CUDA_R_32F, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  if (st != CUBLAS_STATUS_SUCCESS) throw std::runtime_error(std::string("cublasGemmEx: ") + cublasGetStatusString(st));
#else
  const bool a16 = g.a_type == DType::BF16, b16 = g.b_type == DType::BF16;
  if ((a16 || b16) && tensor_cores()) {
    if (a16 && b16) launch_wmma<uint16_t, uint16_t>(g);
    else if (a16) launch_wmma<uint16_t, float>(g);
    else launch_wmma<float, uint16_t>(g);
    return;
  }
  // fp32 x fp32 stays on the exact SIMT kernel: TF32 tensor cores would cost fp32 models ~3 decimal digits.
  if (a16 && b16) launch_sgemm<uint16_t, uint16_t>(g);
  else if (a16) launch_sgemm<uint16_t, float>(g);
  else if (b16) launch_sgemm<float, uint16_t>(g);
  else launch_sgemm<float, float>(g);
#endif
}

}  // namespace stepwise::gpu
