// The training loop (Adam, seeded shuffling, validation, schedulers, early stopping, NaN guard,
// cancellation) and batched inference.
#pragma once

#include <torch/torch.h>

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "network.h"

namespace ptpinn {

// A grouped dataset as tensors over the caller's memory: diffraction amplitudes (n, N, N)
// float, groups (G, C) int64 pattern indices, offsets (G, C, 2) float (dx, dy) to the centroid.
struct GroupedData {
  torch::Tensor diffraction;
  torch::Tensor groups;
  torch::Tensor offsets;
};

enum class LossMode { kPoisson, kMae };
enum class Scheduler { kNone, kExponential, kPlateau };

struct TrainOptions {
  int64_t epochs = 100;
  int64_t batchSize = 16;
  double learningRate = 1e-3;
  uint64_t seed = 42;
  LossMode loss = LossMode::kPoisson;
  Scheduler scheduler = Scheduler::kNone;
  int64_t earlyStopPatience = 100;
  bool objectBig = true;
};

struct Progress {
  int64_t epoch, epochs, batch, batches;
  double loss;              // this batch's loss
  double samplesPerSecond;  // groups per second over this batch
  double learningRate;
  bool epochEnd;            // on the epoch's last report: epochLoss and validationLoss are set
  double epochLoss, validationLoss;  // NaN when not known (yet, or no validation set)
};

struct TrainOutcome {
  std::vector<double> batchLoss, epochLoss, validationLoss, learningRate;
  std::string stop;  // "completed", "cancelled", "early_stop" or "non_finite"
  std::string message;  // for "non_finite": where the loss stopped being finite
};

TrainOutcome Train(PtychoPinn net, const GroupedData& train, const GroupedData* validation,
                   const torch::Tensor& probe, double scale, const TrainOptions& options,
                   const std::function<void(const Progress&)>& report,
                   const std::atomic<bool>& cancel);

// Complex patches (G, C, N, N) of every group, the network run on diffraction / scale in batches.
torch::Tensor Predict(PtychoPinn net, const torch::Tensor& diffraction,
                      const torch::Tensor& groups, double scale, int64_t batchSize);

}  // namespace ptpinn
