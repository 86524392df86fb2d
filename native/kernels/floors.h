// Floor measurements for the kernel benchmark (kernels.md §3.1: "write the floor first, re-measure it at the
// start of every run"). Each function allocates its own buffers, warms up once, then times `reps` passes and
// returns every pass's wall-clock seconds; statistics (median, p20/p80) are computed by the caller so that all
// benchmark numbers go through one code path. Nothing here is a kernel: these only bound what a kernel could do.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace stepwise::floors {

struct Timing {
  std::vector<double> seconds;  // one entry per timed pass
  double work = 0;              // units of work per pass: bytes moved, exps, or FLOPs
  double checksum = 0;          // folded from the outputs so the compiler cannot drop the work
  int threads = 1;              // threads that took part
  std::string variant;          // "memcpy", "avx2-fma", "portable", or the BLAS backend name
};

// Large-buffer copy across all pool threads (stepwise::parallel_for). work = 2 * bytes: the read and the write
// are both counted, the convention of kernels.md §2 (fwd+grad in place = read + write of the row).
Timing copy_bandwidth(int64_t bytes, int reps);

// exp throughput with the data in L1: every thread runs `passes` sweeps of a Cephes-style exp over its own
// `elems_per_thread` floats. AVX2+FMA when the CPU has them (cpu_has_avx2_fma), a portable loop otherwise.
// work = exps per pass over all threads.
Timing exp_throughput(int64_t elems_per_thread, int64_t passes, int reps);

// stepwise::sgemm (OpenBLAS when linked) at C[m,n] = A[m,k] * op(B), op(B) = B^T with B [n,k] when trans_b
// (the LM-head layout: logits = X W^T). work = 2*m*n*k FLOPs.
Timing sgemm_rate(int64_t m, int64_t n, int64_t k, bool trans_b, int reps);

// Device-to-device copy on the current CUDA device (gpu::copy_device, then gpu::synchronize, timed on the host
// clock). work = 2 * bytes. Throws std::runtime_error (from gpu_stub.cc) when the build has no CUDA.
Timing device_copy_bandwidth(int64_t bytes, int reps, int device);

// The AVX2 sweep, defined in floors_avx2.cc (only that file is compiled with -mavx2 -mfma). Returns a checksum.
double exp_sweeps_avx2(const float* in, float* out, int64_t n, int64_t passes);

}  // namespace stepwise::floors
