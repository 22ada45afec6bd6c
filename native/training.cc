#include "training.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <random>

#include "physics.h"

namespace ptpinn {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The loss of one batch of groups: network on X / s, merge (g > 1), physics, likelihood.
torch::Tensor BatchLoss(PtychoPinn& net, const GroupedData& data, const torch::Tensor& rows,
                        const torch::Tensor& probe, double scale, const TrainOptions& options) {
  const torch::Tensor groups = data.groups.index_select(0, rows);
  const int64_t b = groups.size(0), c = groups.size(1), n = data.diffraction.size(-1);
  const torch::Tensor x = data.diffraction.index_select(0, groups.reshape({-1})).view({b, c, n, n}) / scale;
  torch::Tensor patches = net->forward(x);
  if (c > 1 && options.objectBig) {
    patches = physics::MergeGroup(patches, data.offsets.index_select(0, rows));
  }
  const torch::Tensor intensity = physics::Intensity(patches, probe);
  return options.loss == LossMode::kPoisson ? physics::PoissonNll(intensity, x)
                                            : physics::AmplitudeMae(intensity, x);
}

double EvaluationLoss(PtychoPinn& net, const GroupedData& data, const torch::Tensor& probe,
                      double scale, const TrainOptions& options) {
  torch::NoGradGuard noGrad;
  const int64_t count = data.groups.size(0);
  double total = 0;
  for (int64_t start = 0; start < count; start += options.batchSize) {
    const int64_t size = std::min(options.batchSize, count - start);
    const torch::Tensor rows = torch::arange(start, start + size, torch::kLong);
    total += BatchLoss(net, data, rows, probe, scale, options).item<double>() * size;
  }
  return total / count;
}

bool AllFinite(const std::vector<torch::Tensor>& tensors) {
  for (const auto& t : tensors) {
    if (t.defined() && !torch::isfinite(t).all().item<bool>()) return false;
  }
  return true;
}

void SetLearningRate(torch::optim::Adam& adam, double lr) {
  for (auto& group : adam.param_groups()) {
    static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
  }
}

}  // namespace

TrainOutcome Train(PtychoPinn net, const GroupedData& train, const GroupedData* validation,
                   const torch::Tensor& probe, double scale, const TrainOptions& options,
                   const std::function<void(const Progress&)>& report,
                   const std::atomic<bool>& cancel) {
  net->train();
  torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(options.learningRate));
  std::mt19937_64 rng(options.seed);
  const int64_t count = train.groups.size(0);
  const int64_t batches = (count + options.batchSize - 1) / options.batchSize;
  std::vector<int64_t> order(count);
  TrainOutcome out;
  double lr = options.learningRate;
  double best = std::numeric_limits<double>::infinity();
  int64_t sinceBest = 0;
  // plateau: halve the rate after `plateauPatience` epochs without improvement
  constexpr int64_t plateauPatience = 10;
  double plateauBest = std::numeric_limits<double>::infinity();
  int64_t plateauWait = 0;

  for (int64_t epoch = 0; epoch < options.epochs; ++epoch) {
    // Fisher-Yates with mt19937_64, whose output the C++ standard fixes: the same order everywhere
    for (int64_t i = 0; i < count; ++i) order[i] = i;
    for (int64_t i = count - 1; i > 0; --i) {
      std::swap(order[i], order[rng() % static_cast<uint64_t>(i + 1)]);
    }
    const torch::Tensor shuffled = torch::tensor(order, torch::kLong);
    double epochSum = 0;
    for (int64_t batch = 0; batch < batches; ++batch) {
      if (cancel.load()) {
        out.stop = "cancelled";
        return out;
      }
      const auto started = std::chrono::steady_clock::now();
      const int64_t start = batch * options.batchSize;
      const int64_t size = std::min(options.batchSize, count - start);
      const torch::Tensor rows = shuffled.narrow(0, start, size);
      adam.zero_grad();
      torch::Tensor loss = BatchLoss(net, train, rows, probe, scale, options);
      const double value = loss.item<double>();
      if (!std::isfinite(value)) {
        out.stop = "non_finite";
        out.message = "the loss became " + std::string(std::isnan(value) ? "NaN" : "infinite") +
                      " at epoch " + std::to_string(epoch + 1) + ", batch " + std::to_string(batch + 1);
        return out;
      }
      loss.backward();
      std::vector<torch::Tensor> grads;
      for (const auto& p : net->parameters()) grads.push_back(p.grad());
      if (!AllFinite(grads)) {
        out.stop = "non_finite";
        out.message = "a gradient became NaN or infinite at epoch " + std::to_string(epoch + 1) +
                      ", batch " + std::to_string(batch + 1);
        return out;
      }
      adam.step();
      epochSum += value * size;
      out.batchLoss.push_back(value);
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      const bool last = batch == batches - 1;
      Progress p{epoch + 1, options.epochs, batch + 1, batches, value, size / seconds, lr,
                 false, kNaN, kNaN};
      if (last) {
        p.epochEnd = true;
        p.epochLoss = epochSum / count;
        if (validation) {
          p.validationLoss = EvaluationLoss(net, *validation, probe, scale, options);
          net->train();
        }
        out.epochLoss.push_back(p.epochLoss);
        out.validationLoss.push_back(p.validationLoss);
        out.learningRate.push_back(lr);
      }
      report(p);
      if (last) {
        const double monitored = validation ? p.validationLoss : p.epochLoss;
        if (monitored < best) {
          best = monitored;
          sinceBest = 0;
        } else if (++sinceBest >= options.earlyStopPatience) {
          out.stop = "early_stop";
          return out;
        }
        if (options.scheduler == Scheduler::kExponential) {
          lr *= 0.95;
        } else if (options.scheduler == Scheduler::kPlateau) {
          if (monitored < plateauBest) {
            plateauBest = monitored;
            plateauWait = 0;
          } else if (++plateauWait >= plateauPatience) {
            lr *= 0.5;
            plateauWait = 0;
          }
        }
        SetLearningRate(adam, lr);
      }
    }
  }
  out.stop = "completed";
  return out;
}

torch::Tensor Predict(PtychoPinn net, const torch::Tensor& diffraction,
                      const torch::Tensor& groups, double scale, int64_t batchSize) {
  // no eval(): several predictions may overlap, and the network has no train/eval difference
  c10::InferenceMode guard;
  const int64_t count = groups.size(0), c = groups.size(1), n = diffraction.size(-1);
  torch::Tensor out = torch::empty({count, c, n, n}, torch::kComplexFloat);
  for (int64_t start = 0; start < count; start += batchSize) {
    const int64_t size = std::min(batchSize, count - start);
    const torch::Tensor idx = groups.narrow(0, start, size).reshape({-1});
    const torch::Tensor x = diffraction.index_select(0, idx).view({size, c, n, n}) / scale;
    out.narrow(0, start, size).copy_(net->forward(x));
  }
  return out;
}

}  // namespace ptpinn
