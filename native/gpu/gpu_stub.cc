// CPU-only builds: the GPU interface exists but reports that no CUDA code was compiled.
#include <stdexcept>

#include "gpu.h"

namespace stepwise::gpu {
namespace {
[[noreturn]] void no_cuda(const char* what) {
  throw std::runtime_error(std::string(what) +
                           ": this build of @stepwise/native has no CUDA code (nvcc was not found or "
                           "STEPWISE_CUDA=OFF); rebuild with nvcc on PATH and STEPWISE_CUDA=ON");
}
}  // namespace

bool compiled() { return false; }
bool available(std::string* why) {
  if (why) *why = "built without CUDA (nvcc not found at build time, or STEPWISE_CUDA=OFF)";
  return false;
}
int device_count() { return 0; }
std::string device_name(int) { no_cuda("device_name"); }
void set_device(int) { no_cuda("set_device"); }
void* alloc(size_t) { no_cuda("alloc"); }
void free(void*) { no_cuda("free"); }
void copy_to_device(void*, const void*, size_t) { no_cuda("copy_to_device"); }
void copy_to_host(void*, const void*, size_t) { no_cuda("copy_to_host"); }
void copy_device(void*, const void*, size_t) { no_cuda("copy_device"); }
void synchronize() { no_cuda("synchronize"); }
void step_logprob_forward(const StepLogprobForward&) { no_cuda("step_logprob_forward"); }
void step_logprob_backward(const StepLogprobBackward&) { no_cuda("step_logprob_backward"); }
void step_logprob_forward_grad(const StepLogprobForward&, void*, const float*, const float*) { no_cuda("step_logprob_forward_grad"); }
void step_logprob_grad_scale(const StepLogprobGradScale&) { no_cuda("step_logprob_grad_scale"); }
void step_logprob_hidden_forward(const StepLogprobHiddenForward&) { no_cuda("step_logprob_hidden_forward"); }
void step_logprob_hidden_backward(const StepLogprobHiddenBackward&) { no_cuda("step_logprob_hidden_backward"); }
void reward_weights_forward(const RewardWeightsForward&) { no_cuda("reward_weights_forward"); }
void reward_weights_backward(const RewardWeightsBackward&) { no_cuda("reward_weights_backward"); }
DpoReductions dpo_margin(const DpoMarginArgs&) { no_cuda("dpo_margin"); }

}  // namespace stepwise::gpu
