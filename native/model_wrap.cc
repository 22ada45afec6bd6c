#include "model_wrap.h"

#include <atomic>
#include <cmath>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "allocator.h"
#include "js_boundary.h"
#include "physics.h"
#include "stitching_js.h"
#include "tensor_bridge.h"
#include "torch_job.h"
#include "training.h"

namespace ptpinn {

namespace {

constexpr int64_t kMaxCount = int64_t{1} << 31;

// "fp32" (also when undefined) or "bf16"
Precision PrecisionArg(const Napi::Value& value) {
  if (value.IsUndefined()) return Precision::kFloat32;
  return static_cast<Precision>(ChoiceArg(value, "precision", {"fp32", "bf16"}));
}

// inputNorm: undefined, or { mean, std }, Float32Array (N, N) each, std > 0 everywhere. Copied:
// the job outlives the call.
InputNorm InputNormArg(Napi::Env env, const Napi::Value& value, int64_t n) {
  InputNorm norm;
  if (value.IsUndefined()) return norm;
  const auto o = ObjectArg(value, "inputNorm");
  norm.mean = FloatView(o.Get("mean"), {n, n}, "inputNorm.mean").clone();
  norm.std = FloatView(o.Get("std"), {n, n}, "inputNorm.std").clone();
  RequireFinite(env, norm.mean, "inputNorm.mean");
  RequireFinite(env, norm.std, "inputNorm.std");
  if (!(norm.std.min().item<float>() > 0))
    throw Napi::RangeError::New(env, "inputNorm.std must be positive everywhere");
  return norm;
}

// A grouped dataset from { diffraction, nPatterns, groups, nGroups, offsets }, every group index
// checked against the pattern count. Only the patterns the groups use are copied (inference of a
// few patterns of a large file copies those few); the groups then index that copy.
GroupedData GroupedFromJs(const Napi::Value& value, const std::string& what, int64_t n, int64_t c, bool withOffsets) {
  const auto o = ObjectArg(value, what);
  const int64_t patterns = IntegerArg(o.Get("nPatterns"), what + ".nPatterns", 1, kMaxCount);
  const int64_t groups = IntegerArg(o.Get("nGroups"), what + ".nGroups", 1, kMaxCount);
  const at::Tensor index = IndexTensor(o.Get("groups"), {groups, c}, (what + ".groups").c_str());
  if (index.min().item<int64_t>() < 0 || index.max().item<int64_t>() >= patterns) {
    throw Napi::RangeError::New(o.Env(),
                                what + ".groups must hold pattern indices from 0 to " + std::to_string(patterns - 1));
  }
  const auto [used, remapped] = at::_unique(index.reshape({-1}), /*sorted*/ true, /*inverse*/ true);
  GroupedData data{RowsOf(o.Get("diffraction"), {patterns, n, n}, used, (what + ".diffraction").c_str()),
                   remapped.view({groups, c}), at::Tensor()};
  if (withOffsets) {
    data.offsets = FloatView(o.Get("offsets"), {groups, c, 2}, (what + ".offsets").c_str());
    try {
      physics::CheckOffsets(data.offsets, n);
    } catch (const std::invalid_argument& e) {
      throw Napi::RangeError::New(o.Env(), what + ": " + e.what());
    }
  }
  return data;
}

Napi::Array NumbersToJs(Napi::Env env, const std::vector<double>& values) {
  auto array = Napi::Array::New(env, values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    array.Set(static_cast<uint32_t>(i), std::isnan(values[i]) ? env.Null() : Napi::Number::New(env, values[i]));
  }
  return array;
}

Napi::Value FiniteOrNull(Napi::Env env, double v) { return std::isfinite(v) ? Napi::Number::New(env, v) : env.Null(); }
double NumberOrInfinity(const Napi::Value& v, const std::string& what) {
  return v.IsNull() ? std::numeric_limits<double>::infinity() : NumberArg(v, what, -1e300, 1e300);
}

Napi::Array ParametersToJs(Napi::Env env, const std::vector<std::pair<std::string, torch::Tensor>>& named) {
  auto list = Napi::Array::New(env, named.size());
  uint32_t i = 0;
  for (const auto& [name, value] : named) {
    auto entry = Napi::Object::New(env);
    entry.Set("name", name);
    entry.Set("shape", ShapeToJs(env, value));
    entry.Set("data", Float32ArrayFromTensor(env, value));
    list.Set(i++, entry);
  }
  return list;
}

// { epoch, batch, epochSum, learningRate, best, bestEpoch, sinceBest, plateauBest, plateauWait,
//   adam: [{ name, step, expAvg, expAvgSq }] } with shapes from the network's parameters
TrainState StateFromJs(const Napi::Value& value, PtychoPinn& net) {
  const auto o = ObjectArg(value, "resume");
  TrainState st;
  st.epoch = IntegerArg(o.Get("epoch"), "resume.epoch", 0, kMaxCount);
  st.batch = IntegerArg(o.Get("batch"), "resume.batch", 0, kMaxCount);
  st.epochSum = NumberArg(o.Get("epochSum"), "resume.epochSum", -1e300, 1e300);
  st.learningRate = NumberArg(o.Get("learningRate"), "resume.learningRate", 1e-300, 1e300);
  st.best = NumberOrInfinity(o.Get("best"), "resume.best");
  st.bestEpoch = IntegerArg(o.Get("bestEpoch"), "resume.bestEpoch", 0, kMaxCount);
  st.sinceBest = IntegerArg(o.Get("sinceBest"), "resume.sinceBest", 0, kMaxCount);
  st.plateauBest = NumberOrInfinity(o.Get("plateauBest"), "resume.plateauBest");
  st.plateauWait = IntegerArg(o.Get("plateauWait"), "resume.plateauWait", 0, kMaxCount);
  if (!o.Get("adam").IsArray()) throw Napi::TypeError::New(o.Env(), "resume.adam must be an array");
  const auto list = o.Get("adam").As<Napi::Array>();
  const auto named = net->named_parameters();
  for (uint32_t i = 0; i < list.Length(); ++i) {
    const std::string what = "resume.adam[" + std::to_string(i) + "]";
    const auto m = ObjectArg(list.Get(i), what);
    if (!m.Get("name").IsString()) throw Napi::TypeError::New(o.Env(), what + ".name must be a string");
    const std::string name = m.Get("name").As<Napi::String>().Utf8Value();
    const torch::Tensor* p = named.find(name);
    if (!p && name != "probe")
      throw Napi::RangeError::New(o.Env(), what + ": the network has no parameter '" + name + "'");
    // a trainable probe's moments are over its real and imaginary parts
    const int64_t n = net->config.n;
    const auto shape = p ? p->sizes().vec() : std::vector<int64_t>{n, n, 2};
    st.adam.push_back({name, IntegerArg(m.Get("step"), what + ".step", 1, kMaxCount),
                       FloatView(m.Get("expAvg"), shape, (what + ".expAvg").c_str()),
                       FloatView(m.Get("expAvgSq"), shape, (what + ".expAvgSq").c_str())});
  }
  return st;
}

Napi::Object StateToJs(Napi::Env env, const TrainState& st) {
  auto o = Napi::Object::New(env);
  o.Set("epoch", static_cast<double>(st.epoch));
  o.Set("batch", static_cast<double>(st.batch));
  o.Set("epochSum", st.epochSum);
  o.Set("learningRate", st.learningRate);
  o.Set("best", FiniteOrNull(env, st.best));
  o.Set("bestEpoch", static_cast<double>(st.bestEpoch));
  o.Set("sinceBest", static_cast<double>(st.sinceBest));
  o.Set("plateauBest", FiniteOrNull(env, st.plateauBest));
  o.Set("plateauWait", static_cast<double>(st.plateauWait));
  auto adam = Napi::Array::New(env, st.adam.size());
  for (size_t i = 0; i < st.adam.size(); ++i) {
    auto m = Napi::Object::New(env);
    m.Set("name", st.adam[i].name);
    m.Set("step", static_cast<double>(st.adam[i].step));
    m.Set("expAvg", Float32ArrayFromTensor(env, st.adam[i].expAvg));
    m.Set("expAvgSq", Float32ArrayFromTensor(env, st.adam[i].expAvgSq));
    adam.Set(static_cast<uint32_t>(i), m);
  }
  o.Set("adam", adam);
  return o;
}

Napi::Object ProgressToJs(Napi::Env env, const Progress& p) {
  auto o = Napi::Object::New(env);
  o.Set("epoch", static_cast<double>(p.epoch));
  o.Set("epochs", static_cast<double>(p.epochs));
  o.Set("batch", static_cast<double>(p.batch));
  o.Set("batches", static_cast<double>(p.batches));
  o.Set("loss", p.loss);
  o.Set("samplesPerSecond", p.samplesPerSecond);
  o.Set("learningRate", p.learningRate);
  o.Set("epochEnd", p.epochEnd);
  if (p.epochEnd) {
    o.Set("epochLoss", p.epochLoss);
    o.Set("validationLoss", std::isnan(p.validationLoss) ? env.Null() : Napi::Number::New(env, p.validationLoss));
  }
  return o;
}

}  // namespace

Napi::Function ModelWrap::Define(Napi::Env env) {
  return DefineClass(env, "Model",
                     {InstanceMethod<&ModelWrap::Guard<&ModelWrap::Train>>("train"),
                      InstanceMethod<&ModelWrap::Guard<&ModelWrap::Predict>>("predict"),
                      InstanceMethod<&ModelWrap::Cancel>("cancel"), InstanceMethod<&ModelWrap::Dispose>("dispose"),
                      InstanceMethod<&ModelWrap::Guard<&ModelWrap::GetParameters>>("getParameters"),
                      InstanceMethod<&ModelWrap::Guard<&ModelWrap::SetParameters>>("setParameters"),
                      InstanceAccessor<&ModelWrap::ParameterCount>("parameterCount")});
}

// new Model({ n, channels, filterScale, ampActivation, probeBig, sharedMembers, seed })
ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
  Guarded(info.Env(), [&] {
    const auto o = ObjectArg(info[0], "model config");
    NetworkConfig config;
    config.n = IntegerArg(o.Get("n"), "n", 64, 256);  // MakeNetwork refuses all but 64, 128, 256
    config.channels = IntegerArg(o.Get("channels"), "channels", 1, 16);
    config.filterScale = IntegerArg(o.Get("filterScale"), "filterScale", 1, 8);
    config.probeBig = BoolArg(o.Get("probeBig"), "probeBig");
    config.sharedMembers = BoolArg(o.Get("sharedMembers"), "sharedMembers");
    config.ampActivation = static_cast<Activation>(
        ChoiceArg(o.Get("ampActivation"), "ampActivation", {"silu", "sigmoid", "softplus", "relu"}));
    const auto seed = static_cast<uint64_t>(IntegerArg(o.Get("seed"), "seed", 0, (int64_t{1} << 32) - 1));
    net_ = MakeNetwork(config, seed);
  });
}

void ModelWrap::RequireLive(Napi::Env env, const char* what) const {
  if (!net_) throw Napi::Error::New(env, std::string("the model has been disposed; ") + what + " needs a live model");
}

// Frees the weights now rather than at garbage collection; a running job keeps its own reference
// to the network and finishes normally.
void ModelWrap::Dispose(const Napi::CallbackInfo&) {
  cancel_->store(true);
  net_ = PtychoPinn(nullptr);
}

// Claims and releases both happen on the JS thread (a job is destroyed there after it settles).
std::shared_ptr<void> ModelWrap::Claim(Napi::Env env, Access access, const char* what) {
  RequireLive(env, what);
  auto users = users_;
  if (users->writer || (access == Access::kWrite && users->readers > 0)) {
    throw Napi::Error::New(env, std::string("the model is busy ") +
                                    (users->writer ? "training or loading weights" : "predicting") + "; " + what +
                                    " must wait for it to finish");
  }
  if (access == Access::kWrite) {
    users->writer = true;
    return std::shared_ptr<void>(nullptr, [users](void*) { users->writer = false; });
  }
  ++users->readers;
  return std::shared_ptr<void>(nullptr, [users](void*) { --users->readers; });
}

// train({ train: grouped, validation?: grouped, probe, scale, epochs, batchSize, learningRate,
//         seed, loss, scheduler, earlyStopPatience, objectBig, probeTrainable?,
//         probeRateScale?, probeStartEpoch?, inputNorm?, threads }, onProgress?)
Napi::Value ModelWrap::Train(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireLive(env, "train");
  const auto o = ObjectArg(info[0], "train options");
  const int64_t n = net_->config.n, c = net_->config.channels;
  TrainOptions options;
  options.objectBig = BoolArg(o.Get("objectBig"), "objectBig");
  options.probeTrainable = !o.Get("probeTrainable").IsUndefined() && BoolArg(o.Get("probeTrainable"), "probeTrainable");
  if (!o.Get("probeRateScale").IsUndefined()) {
    options.probeRateScale = NumberArg(o.Get("probeRateScale"), "probeRateScale", 0, 1e6);
  }
  if (!o.Get("probeStartEpoch").IsUndefined()) {
    options.probeStartEpoch = IntegerArg(o.Get("probeStartEpoch"), "probeStartEpoch", 0, kMaxCount);
  }
  options.precision = PrecisionArg(o.Get("precision"));
  options.inputNorm = InputNormArg(env, o.Get("inputNorm"), n);
  const bool merge = c > 1 && options.objectBig;
  GroupedData train = GroupedFromJs(o.Get("train"), "train", n, c, merge);
  std::shared_ptr<GroupedData> validation;
  if (!o.Get("validation").IsUndefined()) {
    validation = std::make_shared<GroupedData>(GroupedFromJs(o.Get("validation"), "validation", n, c, merge));
  }
  options.epochs = IntegerArg(o.Get("epochs"), "epochs", 1, kMaxCount);
  options.batchSize = IntegerArg(o.Get("batchSize"), "batchSize", 1, kMaxCount);
  options.learningRate = NumberArg(o.Get("learningRate"), "learningRate", 1e-300, 1e300);
  options.seed = static_cast<uint64_t>(IntegerArg(o.Get("seed"), "seed", 0, (int64_t{1} << 32) - 1));
  options.loss = static_cast<LossMode>(ChoiceArg(o.Get("loss"), "loss", {"poisson", "mae"}));
  options.scheduler =
      static_cast<Scheduler>(ChoiceArg(o.Get("scheduler"), "scheduler", {"none", "exponential", "plateau", "cosine"}));
  options.earlyStopPatience = IntegerArg(o.Get("earlyStopPatience"), "earlyStopPatience", 1, kMaxCount);
  const at::Tensor probe = ComplexView(o.Get("probe"), {n, n}, "probe");
  RequireFinite(env, probe, "probe");
  const double scale = NumberArg(o.Get("scale"), "scale", 1e-30, 1e30);
  options.untilEpoch =
      o.Get("untilEpoch").IsUndefined() ? 0 : IntegerArg(o.Get("untilEpoch"), "untilEpoch", 1, kMaxCount);
  const TrainState start = o.Get("resume").IsUndefined() ? TrainState{} : StateFromJs(o.Get("resume"), net_);
  const int threads = ThreadsArg(o.Get("threads"));
  if (!info[1].IsUndefined() && !info[1].IsFunction()) {
    throw Napi::TypeError::New(env, "onProgress must be a function");
  }
  auto token = Claim(env, Access::kWrite, "train");
  // created last: once it exists, only the job releases it (an earlier throw would leak it and
  // keep Node's event loop alive)
  Napi::ThreadSafeFunction progress;
  if (info[1].IsFunction()) {
    progress = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "ptychopinn.progress", 0, 1);
  }
  cancel_->store(false);
  auto outcome = std::make_shared<TrainOutcome>();
  auto net = net_;
  auto cancel = cancel_;
  return RunTorchJob(
      env, threads,
      [=]() mutable {
        // released however the loop ends, so Node can exit afterwards
        std::shared_ptr<void> release(nullptr, [progress](void*) mutable {
          if (progress) progress.Release();
        });
        auto report = [progress](const Progress& p) mutable {
          if (!progress) return;
          progress.NonBlockingCall(new Progress(p), [](Napi::Env env, Napi::Function fn, Progress* data) {
            std::unique_ptr<Progress> owned(data);
            fn.Call({ProgressToJs(env, *owned)});
          });
        };
        *outcome = ptpinn::Train(net, train, validation.get(), probe, scale, options, start, report, *cancel);
      },
      [=](Napi::Env env) {
        (void)token;
        auto out = Napi::Object::New(env);
        out.Set("stop", outcome->stop);
        out.Set("message", outcome->message);
        out.Set("batchLoss", NumbersToJs(env, outcome->batchLoss));
        out.Set("epochLoss", NumbersToJs(env, outcome->epochLoss));
        out.Set("validationLoss", NumbersToJs(env, outcome->validationLoss));
        out.Set("learningRate", NumbersToJs(env, outcome->learningRate));
        out.Set("state", StateToJs(env, outcome->state));
        if (!outcome->bestParameters.empty()) out.Set("best", ParametersToJs(env, outcome->bestParameters));
        if (outcome->probe.defined()) out.Set("probe", Float32ArrayFromTensor(env, outcome->probe));
        return out;
      });
}

// predict({ diffraction, nPatterns, groups, nGroups, scale, inputNorm?, batchSize, threads, precision?,
//           keepPatches, stitch?: { positions: Float64Array (G * C, 2), weights: Float32Array
//           (N, N), canvas, sums?: Float32Array (H * W * 3) } }, onProgress?({ done, total }))
//   -> Promise<{ patches?: { data: complex (G, C, N, N), shape }, sums?: { data: (H * W, 3), shape } }>
// The stitch's running sums go in and out, so that a caller can predict a large dataset chunk by
// chunk (only one chunk's patterns copied at a time) and divide by the weights once at the end.
Napi::Value ModelWrap::Predict(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireLive(env, "predict");
  const auto o = ObjectArg(info[0], "predict options");
  const int64_t n = net_->config.n, c = net_->config.channels;
  const GroupedData data = GroupedFromJs(o, "predict", n, c, false);
  const at::Tensor diffraction = data.diffraction, index = data.groups;
  PredictOptions options;
  options.scale = NumberArg(o.Get("scale"), "scale", 1e-30, 1e30);
  options.batchSize = IntegerArg(o.Get("batchSize"), "batchSize", 1, kMaxCount);
  options.precision = PrecisionArg(o.Get("precision"));
  options.inputNorm = InputNormArg(env, o.Get("inputNorm"), n);
  options.keepPatches = BoolArg(o.Get("keepPatches"), "keepPatches");
  if (!o.Get("stitch").IsUndefined()) {
    const auto st = ObjectArg(o.Get("stitch"), "stitch");
    options.positions = Float64View(st.Get("positions"), {index.size(0) * c, 2}, "stitch.positions");
    RequireFinite(env, options.positions, "stitch.positions");
    options.weights = FloatView(st.Get("weights"), {n, n}, "stitch.weights");
    options.canvas = CanvasArg(st.Get("canvas"), "stitch.canvas");
    if (!st.Get("sums").IsUndefined()) {
      // not required finite: a NaN patch of an earlier chunk is in them, and belongs in the object
      options.sums = FloatView(st.Get("sums"), {options.canvas->height * options.canvas->width, 3}, "stitch.sums");
    }
  }
  if (!options.keepPatches && !options.canvas) {
    throw Napi::TypeError::New(env, "predict: keepPatches is false and there is no stitch: nothing to return");
  }
  const int threads = ThreadsArg(o.Get("threads"));
  if (!info[1].IsUndefined() && !info[1].IsFunction()) {
    throw Napi::TypeError::New(env, "onProgress must be a function");
  }
  // cancel: an Int32Array(1) over a SharedArrayBuffer that the caller sets to 1 (Atomics.store)
  // to stop before the next batch. The pool thread reads its memory only, never a JS value; the
  // reference keeps the buffer alive until the job, deleted on this thread, lets it go.
  std::shared_ptr<Napi::Reference<Napi::Value>> cancelRef;
  static_assert(std::atomic_ref<int32_t>::is_always_lock_free, "the cancel flag is read while JS writes it");
  int32_t* cancelFlag = nullptr;
  if (!o.Get("cancel").IsUndefined()) {
    const Napi::Value flag = o.Get("cancel");
    if (!flag.IsTypedArray() || flag.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
        flag.As<Napi::Int32Array>().ElementLength() != 1) {
      throw Napi::TypeError::New(env, "predict: cancel must be an Int32Array of one element");
    }
    cancelFlag = flag.As<Napi::Int32Array>().Data();
    cancelRef = std::make_shared<Napi::Reference<Napi::Value>>(Napi::Persistent(flag));
  }
  auto token = Claim(env, Access::kRead, "predict");
  // created last (see Train)
  Napi::ThreadSafeFunction progress;
  if (info[1].IsFunction()) {
    progress = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "ptychopinn.predict", 0, 1);
  }
  auto net = net_;
  auto result = std::make_shared<Prediction>();
  return RunTorchJob(
      env, threads,
      [=]() mutable {
        std::shared_ptr<void> release(nullptr, [progress](void*) mutable {
          if (progress) progress.Release();
        });
        PredictOptions withProgress = options;
        if (cancelFlag) {
          // the flag's memory only: the reference that keeps it alive stays with the resolve
          // step below, so that it is let go on the JS thread
          withProgress.cancelled = [cancelFlag]() {
            return std::atomic_ref<int32_t>(*cancelFlag).load(std::memory_order_relaxed) != 0;
          };
        }
        if (progress) {
          withProgress.progress = [progress](int64_t done, int64_t total) mutable {
            progress.NonBlockingCall(new std::pair<int64_t, int64_t>(done, total),
                                     [](Napi::Env env, Napi::Function fn, std::pair<int64_t, int64_t>* data) {
                                       std::unique_ptr<std::pair<int64_t, int64_t>> owned(data);
                                       auto p = Napi::Object::New(env);
                                       p.Set("done", static_cast<double>(owned->first));
                                       p.Set("total", static_cast<double>(owned->second));
                                       fn.Call({p});
                                     });
          };
        }
        {
          HugePages hugePages;
          *result = ptpinn::Predict(net, diffraction, index, withProgress);
        }
        ReleaseFreeMemory();
      },
      [=](Napi::Env env) {
        (void)token;
        (void)cancelRef;
        auto out = Napi::Object::New(env);
        auto put = [&](const char* key, const at::Tensor& t) {
          if (!t.defined()) return;
          auto entry = Napi::Object::New(env);
          entry.Set("data", Float32ArrayFromTensor(env, t));
          entry.Set("shape", ShapeToJs(env, t));
          out.Set(key, entry);
        };
        put("patches", result->patches);
        put("sums", result->sums);
        return out;
      });
}

void ModelWrap::Cancel(const Napi::CallbackInfo&) { cancel_->store(true); }

// [{ name, shape, data: Float32Array }] in registration order (copies of the weights)
Napi::Value ModelWrap::GetParameters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto token = Claim(env, Access::kRead, "getParameters");
  return ParametersToJs(env, CopyParameters(net_));
}

// setParameters([{ name, shape, data }]): every parameter, exactly once, with its shape
Napi::Value ModelWrap::SetParameters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto token = Claim(env, Access::kWrite, "setParameters");
  auto named = net_->named_parameters();
  if (!info[0].IsArray()) throw Napi::TypeError::New(env, "parameters must be an array");
  const auto list = info[0].As<Napi::Array>();
  std::set<std::string> seen;
  std::vector<std::pair<at::Tensor, at::Tensor>> copies;
  for (uint32_t i = 0; i < list.Length(); ++i) {
    const auto entry = ObjectArg(list.Get(i), "parameters[" + std::to_string(i) + "]");
    if (!entry.Get("name").IsString()) {
      throw Napi::TypeError::New(env, "parameters[" + std::to_string(i) + "].name must be a string");
    }
    const std::string name = entry.Get("name").As<Napi::String>().Utf8Value();
    const at::Tensor* target = named.find(name);
    if (!target) throw Napi::Error::New(env, "unknown parameter '" + name + "'");
    if (!seen.insert(name).second) throw Napi::Error::New(env, "parameter '" + name + "' given twice");
    const auto shape = ShapeFromJs(entry.Get("shape"), name.c_str());
    if (target->sizes().vec() != shape) {
      throw Napi::Error::New(env, "parameter '" + name + "' has shape " + c10::str(c10::IntArrayRef(shape)) +
                                      ", the network needs " + c10::str(target->sizes()));
    }
    copies.emplace_back(*target, FloatView(entry.Get("data"), shape, name.c_str()));
  }
  for (const auto& item : named) {
    if (!seen.count(item.key())) throw Napi::Error::New(env, "parameter '" + item.key() + "' is missing");
  }
  torch::NoGradGuard noGrad;
  for (auto& [target, source] : copies) target.copy_(source);
  return env.Undefined();
}

Napi::Value ModelWrap::ParameterCount(const Napi::CallbackInfo& info) {
  RequireLive(info.Env(), "parameterCount");
  int64_t count = 0;
  for (const auto& p : net_->parameters()) count += p.numel();
  return Napi::Number::New(info.Env(), static_cast<double>(count));
}

}  // namespace ptpinn
