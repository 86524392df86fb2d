// The GPU side of the core: device memory and the CUDA versions of the kernels in kernels.h.
// Built from cuda/*.cu when nvcc is found (STEPWISE_CUDA=AUTO|ON); otherwise gpu_stub.cc provides the same
// symbols, where available() is false and every other call throws std::runtime_error.
// Pointers in the kernel argument structs are DEVICE pointers here. Every call checks CUDA return codes and
// the last launch error, and throws std::runtime_error naming the call; nothing aborts the process.
#pragma once
#include <cstddef>
#include <string>

#include "../kernels/kernels.h"

namespace stepwise::gpu {

bool compiled();                  // true when this binary contains CUDA code
bool available(std::string* why);  // a usable device exists; *why says why not
int device_count();
std::string device_name(int device);

void set_device(int device);
void* alloc(size_t bytes);
void free(void* p);
void copy_to_device(void* dst, const void* src, size_t bytes);
void copy_to_host(void* dst, const void* src, size_t bytes);
void copy_device(void* dst, const void* src, size_t bytes);
void synchronize();

void step_logprob_forward(const StepLogprobForward& a);
void step_logprob_backward(const StepLogprobBackward& a);
void step_logprob_forward_grad(const StepLogprobForward& a, void* grad, const float* grad_token,
                               const float* grad_step);  // kernels.h (a+)
void step_logprob_grad_scale(const StepLogprobGradScale& a);
void step_logprob_hidden_forward(const StepLogprobHiddenForward& a);   // cuBLAS when present, own GEMM otherwise
void step_logprob_hidden_backward(const StepLogprobHiddenBackward& a);
void reward_weights_forward(const RewardWeightsForward& a);
void reward_weights_backward(const RewardWeightsBackward& a);
// Reductions are computed on the device and copied back (one small transfer).
DpoReductions dpo_margin(const DpoMarginArgs& a);

}  // namespace stepwise::gpu
