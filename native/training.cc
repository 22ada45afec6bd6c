#include "training.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <random>
#include <sstream>
#include <stdexcept>
#include <type_traits>

#include "physics.h"

namespace ptpinn {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The loss of one batch of groups: network on X / s, merge (g > 1), physics, likelihood.
// `probe` is complex (N, N).
torch::Tensor BatchLoss(PtychoPinn& net, const GroupedData& data, const torch::Tensor& rows, const torch::Tensor& probe,
                        double scale, const TrainOptions& options) {
  const torch::Tensor groups = data.groups.index_select(0, rows);
  const int64_t b = groups.size(0), c = groups.size(1), n = data.diffraction.size(-1);
  const torch::Tensor x = data.diffraction.index_select(0, groups.reshape({-1})).view({b, c, n, n}) / scale;
  torch::Tensor patches;
  {
    // the network alone in the chosen precision: merge, physics and likelihood stay fp32
    const PrecisionScope precision(options.precision);
    patches = net->forward(options.inputNorm.Apply(x));
  }
  if (c > 1 && options.objectBig) {
    patches = physics::MergeGroup(patches, data.offsets.index_select(0, rows));
  }
  const torch::Tensor intensity = physics::Intensity(patches, probe);
  return options.loss == LossMode::kPoisson ? physics::PoissonNll(intensity, x) : physics::AmplitudeMae(intensity, x);
}

double EvaluationLoss(PtychoPinn& net, const GroupedData& data, const torch::Tensor& probe, double scale,
                      const TrainOptions& options) {
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

// The rate of batch `step` of `total`: a pure function of the position, so a resumed run
// follows the same schedule.
double CosineRate(double base, int64_t step, int64_t total, int64_t perEpoch) {
  const int64_t warmup = std::max<int64_t>(1, std::min(perEpoch, total / 10));
  if (step < warmup) return base * static_cast<double>(step + 1) / static_cast<double>(warmup);
  const double progress =
      static_cast<double>(step - warmup) / static_cast<double>(std::max<int64_t>(1, total - 1 - warmup));
  constexpr double floor = 0.05;
  return base * (floor + (1 - floor) * 0.5 * (1 + std::cos(M_PI * std::min(1.0, progress))));
}

// The network's group gets `lr`; the probe's group (the second, when the probe is trainable)
// `probeLr`.
void SetLearningRate(torch::optim::Adam& adam, double lr, double probeLr) {
  auto& groups = adam.param_groups();
  for (size_t i = 0; i < groups.size(); ++i) {
    static_cast<torch::optim::AdamOptions&>(groups[i].options()).lr(i == 0 ? lr : probeLr);
  }
}

// Adam's state map is keyed by the parameter's TensorImpl: a pointer printed as a string in
// LibTorch 1.13, the pointer itself in 2.x.
template <typename Map>
auto StateKey(const torch::Tensor& p) {
  using Key = typename std::decay_t<Map>::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream key;
    key << p.unsafeGetTensorImpl();
    return key.str();
  } else {
    return static_cast<Key>(p.unsafeGetTensorImpl());
  }
}

// What Adam updates, by name: the network's parameters, then the probe when it is trainable.
torch::OrderedDict<std::string, torch::Tensor> Trainables(PtychoPinn& net, const torch::Tensor& probe) {
  auto named = net->named_parameters();
  if (probe.defined()) named.insert("probe", probe);
  return named;
}

void RestoreAdam(torch::optim::Adam& adam, const torch::OrderedDict<std::string, torch::Tensor>& named,
                 const TrainState& start) {
  auto& state = adam.state();
  for (const auto& m : start.adam) {
    const torch::Tensor* p = named.find(m.name);
    if (!p) throw std::invalid_argument("optimizer state for unknown parameter '" + m.name + "'");
    if (m.expAvg.sizes() != p->sizes() || m.expAvgSq.sizes() != p->sizes()) {
      throw std::invalid_argument("optimizer state of '" + m.name + "' has the wrong shape");
    }
    auto moments = std::make_unique<torch::optim::AdamParamState>();
    moments->step(m.step);
    // in the parameter's layout, as Adam makes them
    moments->exp_avg(torch::empty_like(*p).copy_(m.expAvg));
    moments->exp_avg_sq(torch::empty_like(*p).copy_(m.expAvgSq));
    state[StateKey<decltype(state)>(*p)] = std::move(moments);
  }
}

std::vector<TrainState::Moments> SaveAdam(torch::optim::Adam& adam,
                                          const torch::OrderedDict<std::string, torch::Tensor>& named) {
  std::vector<TrainState::Moments> out;
  auto& state = adam.state();
  for (const auto& item : named) {
    auto found = state.find(StateKey<decltype(state)>(item.value()));
    if (found == state.end()) continue;
    const auto& m = static_cast<const torch::optim::AdamParamState&>(*found->second);
    out.push_back({item.key(), m.step(), m.exp_avg().clone(), m.exp_avg_sq().clone()});
  }
  return out;
}

}  // namespace

TrainOutcome Train(PtychoPinn net, const GroupedData& train, const GroupedData* validation, const torch::Tensor& probe,
                   double scale, const TrainOptions& options, const TrainState& start,
                   const std::function<void(const Progress&)>& report, const std::atomic<bool>& cancel) {
  net->train();
  // a trainable probe: a leaf of real and imaginary parts, held at its starting power
  torch::Tensor probeParts;
  double probePower = 0;
  if (options.probeTrainable) {
    probeParts = torch::view_as_real(probe).detach().clone().set_requires_grad(true);
    // the power every training probe is normalised to (lib/probe.ts), a constant rather than this
    // call's starting probe's float sum, so a run split into calls follows the same path
    const double half = static_cast<double>(probe.size(-1)) / 2;
    probePower = half * half;
  }
  const torch::Tensor physicsProbe = probeParts.defined() ? torch::view_as_complex(probeParts) : probe;
  const auto trainables = Trainables(net, probeParts);
  torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(options.learningRate));
  if (probeParts.defined()) adam.add_param_group(torch::optim::OptimizerParamGroup({probeParts}));
  RestoreAdam(adam, trainables, start);
  std::mt19937_64 rng(options.seed);
  const int64_t count = train.groups.size(0);
  const int64_t batches = (count + options.batchSize - 1) / options.batchSize;
  std::vector<int64_t> order(count);
  TrainOutcome out;
  TrainState& st = out.state;
  st = start;
  st.adam.clear();
  if (st.learningRate <= 0) st.learningRate = options.learningRate;
  // the probe's rate follows the network's, scaled, and is zero before probeStartEpoch: while the
  // object is still far off, the probe would absorb its errors
  auto setRates = [&](int64_t epoch) {
    const double probe = epoch >= options.probeStartEpoch ? st.learningRate * options.probeRateScale : 0.0;
    SetLearningRate(adam, st.learningRate, probe);
  };
  // plateau: halve the rate after `plateauPatience` epochs without improvement
  constexpr int64_t plateauPatience = 10;
  const int64_t until = options.untilEpoch > 0 ? std::min(options.untilEpoch, options.epochs) : options.epochs;
  // the state handed back: Adam's moments are copied only when the call returns
  auto finish = [&](const std::string& stop) {
    out.stop = stop;
    st.adam = SaveAdam(adam, trainables);
    if (probeParts.defined()) out.probe = torch::view_as_complex(probeParts.detach().clone());
    return out;
  };

  for (int64_t epoch = 0; epoch < options.epochs; ++epoch) {
    // Fisher-Yates with mt19937_64, whose output the C++ standard fixes: the same order everywhere.
    // A resumed run replays the shuffles of the epochs it skips, so its orders are the same.
    for (int64_t i = 0; i < count; ++i) order[i] = i;
    for (int64_t i = count - 1; i > 0; --i) {
      std::swap(order[i], order[rng() % static_cast<uint64_t>(i + 1)]);
    }
    if (epoch < st.epoch) continue;
    if (epoch >= until) return finish("checkpoint");
    setRates(epoch);
    const torch::Tensor shuffled = torch::tensor(order, torch::kLong);
    const auto epochStarted = std::chrono::steady_clock::now();
    int64_t done = 0;
    for (int64_t batch = st.batch; batch < batches; ++batch) {
      if (cancel.load()) return finish("cancelled");
      const int64_t begin = batch * options.batchSize;
      const int64_t size = std::min(options.batchSize, count - begin);
      const torch::Tensor rows = shuffled.narrow(0, begin, size);
      if (options.scheduler == Scheduler::kCosine) {
        st.learningRate = CosineRate(options.learningRate, epoch * batches + batch, options.epochs * batches, batches);
        setRates(epoch);
      }
      adam.zero_grad();
      torch::Tensor loss = BatchLoss(net, train, rows, physicsProbe, scale, options);
      const double value = loss.item<double>();
      if (!std::isfinite(value)) {
        out.message = "the loss became " + std::string(std::isnan(value) ? "NaN" : "infinite") + " at epoch " +
                      std::to_string(epoch + 1) + ", batch " + std::to_string(batch + 1);
        return finish("non_finite");
      }
      loss.backward();
      std::vector<torch::Tensor> grads;
      for (const auto& p : trainables.values()) grads.push_back(p.grad());
      if (!AllFinite(grads)) {
        out.message = "a gradient became NaN or infinite at epoch " + std::to_string(epoch + 1) + ", batch " +
                      std::to_string(batch + 1);
        return finish("non_finite");
      }
      // before probeStartEpoch the probe has no gradient, so Adam neither steps it nor starts its
      // moments: it starts fresh, not with the early epochs' large gradients in its averages
      if (probeParts.defined() && epoch < options.probeStartEpoch) probeParts.mutable_grad().reset();
      adam.step();
      if (probeParts.defined()) {
        torch::NoGradGuard noGrad;
        probeParts.mul_(std::sqrt(probePower / probeParts.square().sum().item<double>()));
      }
      st.epochSum += value * size;
      st.batch = batch + 1;
      done += size;
      out.batchLoss.push_back(value);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - epochStarted).count();
      const bool last = batch == batches - 1;
      Progress p{epoch + 1,      options.epochs,  batch + 1, batches, value,
                 done / seconds, st.learningRate, false,     kNaN,    kNaN};
      if (last) {
        p.epochEnd = true;
        p.epochLoss = st.epochSum / count;
        if (validation) {
          p.validationLoss = EvaluationLoss(net, *validation, physicsProbe, scale, options);
          net->train();
        }
        out.epochLoss.push_back(p.epochLoss);
        out.validationLoss.push_back(p.validationLoss);
        out.learningRate.push_back(st.learningRate);
        st.epoch = epoch + 1;
        st.batch = 0;
        st.epochSum = 0;
      }
      report(p);
      if (last) {
        const double monitored = validation ? p.validationLoss : p.epochLoss;
        bool stopEarly = false;
        if (monitored < st.best) {
          st.best = monitored;
          st.bestEpoch = epoch + 1;
          st.sinceBest = 0;
          out.bestParameters = CopyParameters(net);
          if (probeParts.defined()) out.bestParameters.emplace_back("probe", probeParts.detach().clone());
        } else if (++st.sinceBest >= options.earlyStopPatience) {
          stopEarly = true;
        }
        if (options.scheduler == Scheduler::kExponential) {
          st.learningRate *= 0.95;
        } else if (options.scheduler == Scheduler::kPlateau) {
          if (monitored < st.plateauBest) {
            st.plateauBest = monitored;
            st.plateauWait = 0;
          } else if (++st.plateauWait >= plateauPatience) {
            st.learningRate *= 0.5;
            st.plateauWait = 0;
          }
        }
        if (stopEarly) return finish("early_stop");
      }
    }
  }
  return finish("completed");
}

Prediction Predict(PtychoPinn net, const torch::Tensor& diffraction, const torch::Tensor& groups,
                   const PredictOptions& options) {
  // no eval(): several predictions may overlap, and the network has no train/eval difference
  // The channels-last copy is made outside inference mode: its parameters are ordinary tensors,
  // like the network's.
  if (ChannelsLastLayout())
    net = ChannelsLastCopy(net, options.precision == Precision::kBFloat16 ? torch::kBFloat16 : torch::kFloat);
  c10::InferenceMode guard;
  const PrecisionScope precision(options.precision);
  const int64_t count = groups.size(0), c = groups.size(1), n = diffraction.size(-1);
  // the batch counts patterns, so that a forward pass costs the same memory at every gridsize
  const int64_t perBatch = std::max<int64_t>(1, options.batchSize / c);
  Prediction out;
  if (options.keepPatches) out.patches = torch::empty({count, c, n, n}, torch::kComplexFloat);
  std::optional<stitching::CanvasSum> sum;
  if (options.canvas && options.sums.defined()) {
    sum.emplace(*options.canvas, options.weights, options.sums);
  } else if (options.canvas) {
    sum.emplace(*options.canvas, options.weights);
  }
  for (int64_t start = 0; start < count; start += perBatch) {
    if (options.cancelled && options.cancelled()) throw Cancelled();
    const int64_t size = std::min(perBatch, count - start);
    const torch::Tensor idx = groups.narrow(0, start, size).reshape({-1});
    torch::Tensor x = options.inputNorm.Apply(diffraction.index_select(0, idx).view({size, c, n, n}) / options.scale);
    const torch::Tensor patches = net->forward(x);
    if (options.keepPatches) out.patches.narrow(0, start, size).copy_(patches);
    if (sum) sum->Add(patches.reshape({size * c, n, n}), options.positions.narrow(0, start * c, size * c));
    if (options.progress) options.progress(start + size, count);
  }
  if (sum) out.sums = sum->Sums();
  return out;
}

}  // namespace ptpinn
