// The training loop (Adam, seeded shuffling, validation, schedulers, early stopping, NaN guard,
// cancellation) and batched inference.
#pragma once

#include <torch/torch.h>

#include <atomic>
#include <functional>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "network.h"
#include "stitching.h"

namespace ptpinn {

// A grouped dataset as tensors over the caller's memory: diffraction amplitudes (n, N, N)
// float, groups (G, C) int64 pattern indices, offsets (G, C, 2) float (dx, dy) to the centroid.
struct GroupedData {
  torch::Tensor diffraction;
  torch::Tensor groups;
  torch::Tensor offsets;
};

enum class LossMode { kPoisson, kMae };
// kCosine: a linear warm-up over the first epoch (at most a tenth of the run), then a cosine
// decay to a twentieth of the rate at the last batch, set before every batch.
enum class Scheduler { kNone, kExponential, kPlateau, kCosine };

// Per-pixel standardisation of the network's input, (x - mean) / std with x = diffraction /
// scale; both (N, N), undefined for none. The physics and the loss keep x itself.
struct InputNorm {
  torch::Tensor mean, std;
  torch::Tensor Apply(const torch::Tensor& x) const { return mean.defined() ? (x - mean) / std : x; }
};

struct TrainOptions {
  int64_t epochs = 100;
  int64_t batchSize = 16;
  double learningRate = 1e-3;
  uint64_t seed = 42;
  LossMode loss = LossMode::kPoisson;
  Scheduler scheduler = Scheduler::kNone;
  int64_t earlyStopPatience = 100;
  bool objectBig = true;
  // The probe is a parameter of the physics, refined with the network from epoch probeStartEpoch
  // (0-based) at probeRateScale times its learning rate, and held at the normalised power sum
  // |P|^2 = (N/2)^2 (the object's amplitude keeps its scale).
  bool probeTrainable = false;
  double probeRateScale = 1;
  int64_t probeStartEpoch = 0;
  Precision precision = Precision::kFloat32;
  InputNorm inputNorm;
  // Return with stop "checkpoint" once this many epochs are complete (0: run to `epochs`), so the
  // caller can save the state and call again: checkpoints and resumption share one path.
  int64_t untilEpoch = 0;
};

// Everything the loop carries from one batch to the next besides the weights: what a resumed run
// needs to continue exactly where the interrupted one stopped.
struct TrainState {
  int64_t epoch = 0;    // epochs complete
  int64_t batch = 0;    // batches of the next epoch complete (an interruption mid-epoch)
  double epochSum = 0;  // sum of size x loss over those batches
  double learningRate = 0;
  double best = std::numeric_limits<double>::infinity();  // best monitored loss so far
  int64_t bestEpoch = 0;
  int64_t sinceBest = 0;
  double plateauBest = std::numeric_limits<double>::infinity();
  int64_t plateauWait = 0;
  // Adam's moments by parameter name, "probe" for a trainable probe (empty before the first step)
  struct Moments {
    std::string name;
    int64_t step;
    torch::Tensor expAvg, expAvgSq;
  };
  std::vector<Moments> adam;
};

struct Progress {
  int64_t epoch, epochs, batch, batches;
  double loss;              // this batch's loss
  double samplesPerSecond;  // groups per second over the epoch so far
  double learningRate;
  bool epochEnd;                     // on the epoch's last report: epochLoss and validationLoss are set
  double epochLoss, validationLoss;  // NaN when not known (yet, or no validation set)
};

struct TrainOutcome {
  std::vector<double> batchLoss, epochLoss, validationLoss, learningRate;
  std::string stop;     // "completed", "cancelled", "early_stop", "non_finite" or "checkpoint"
  std::string message;  // for "non_finite": where the loss stopped being finite
  TrainState state;     // where the loop stopped (for "non_finite": before the bad batch)
  // copies of the weights at the best monitored loss, when this call improved on it (with a
  // trainable probe, its real and imaginary parts (N, N, 2) as "probe")
  std::vector<std::pair<std::string, torch::Tensor>> bestParameters;
  // a trainable probe where the loop stopped, complex (N, N)
  torch::Tensor probe;
};

// Trains from `start` (a fresh run: a default TrainState with learningRate 0) to the end or to
// options.untilEpoch. `probe` is where a trainable probe starts.
TrainOutcome Train(PtychoPinn net, const GroupedData& train, const GroupedData* validation, const torch::Tensor& probe,
                   double scale, const TrainOptions& options, const TrainState& start,
                   const std::function<void(const Progress&)>& report, const std::atomic<bool>& cancel);

struct PredictOptions {
  double scale = 1;        // the intensity scale: the network sees diffraction / scale
  InputNorm inputNorm;     // as in training
  int64_t batchSize = 16;  // patterns per forward pass (whole groups, at least one)
  Precision precision = Precision::kFloat32;
  bool keepPatches = true;  // return every group's patches (G, C, N, N)
  // stitch batch by batch onto this canvas (positions (G * C, 2) in group order, weights (N, N)),
  // adding to `sums` (H * W, 3) when defined: a large dataset is predicted chunk by chunk
  std::optional<stitching::Canvas> canvas;
  torch::Tensor positions, weights, sums;
  std::function<void(int64_t done, int64_t total)> progress;  // groups done, after each batch
  std::function<bool()> cancelled;  // asked before each batch: true ends the call with Cancelled
};

// What Predict throws when `cancelled` says so: the caller's abort, not a failure.
struct Cancelled : std::runtime_error {
  Cancelled() : std::runtime_error("cancelled") {}
};

struct Prediction {
  torch::Tensor patches;  // (G, C, N, N) complex when keepPatches
  torch::Tensor sums;     // the canvas's running sums (H * W, 3) when a canvas was given
};

// The network on every group, in batches; with a canvas the patches are stitched as they come,
// so memory does not grow with the number of patterns.
Prediction Predict(PtychoPinn net, const torch::Tensor& diffraction, const torch::Tensor& groups,
                   const PredictOptions& options);

}  // namespace ptpinn
