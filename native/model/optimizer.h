// AdamW and SGD over a model's single parameter buffer, with global-norm gradient clipping.
// Weight decay applies only to tensors with TensorInfo::decay (matrices and embeddings), never to RMSNorm
// weights or biases (the HF Trainer / GPT-2 convention: decaying a norm gain towards 0 shrinks the activations).
#pragma once
#include <cstdint>
#include <vector>

#include "model.h"

namespace stepwise::model {

enum class OptimizerKind : int32_t { AdamW = 0, Sgd = 1 };

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::AdamW;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // AdamW
  double momentum = 0.0;                          // SGD (0 = plain SGD)
  bool nesterov = false;                          // SGD
  double weight_decay = 0.0;  // AdamW: decoupled (p -= lr*wd*p); SGD: L2 added to the gradient (torch.optim.SGD)
  double max_grad_norm = 0.0;  // > 0: scale all gradients so their global L2 norm is at most this
};

struct StepResult {
  double grad_norm = 0;  // global L2 norm before clipping
  bool skipped = false;  // the norm was not finite: parameters and state untouched
};

template <typename T>
class Optimizer {
 public:
  Optimizer(Model<T>& m, const OptimizerConfig& c);
  // One update with learning rate lr. Gradients are clipped in place (as torch.nn.utils.clip_grad_norm_ does).
  StepResult step(double lr);
  double grad_norm() const;

  OptimizerConfig cfg;
  int64_t t = 0;               // completed steps (AdamW bias correction)
  std::vector<T> m1, m2;       // AdamW exp_avg / exp_avg_sq; SGD momentum buffer in m1 (m2 empty)

 private:
  Model<T>& model_;
};

}  // namespace stepwise::model
