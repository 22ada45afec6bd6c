#include "model_wrap.h"

#include <cmath>
#include <set>
#include <string>

#include "tensor_bridge.h"
#include "torch_job.h"
#include "training.h"

namespace ptpinn {

namespace {

int64_t IntField(const Napi::Object& o, const char* key) {
  return o.Get(key).As<Napi::Number>().Int64Value();
}
double NumberField(const Napi::Object& o, const char* key) {
  return o.Get(key).As<Napi::Number>().DoubleValue();
}
std::string StringField(const Napi::Object& o, const char* key) {
  return o.Get(key).As<Napi::String>().Utf8Value();
}

// A grouped dataset from { diffraction, nPatterns, groups, nGroups, offsets } (validated in TS).
GroupedData GroupedFromJs(const Napi::Object& o, int64_t n, int64_t c) {
  const int64_t patterns = IntField(o, "nPatterns"), groups = IntField(o, "nGroups");
  return {FloatView(o.Get("diffraction"), {patterns, n, n}, "diffraction"),
          IndexTensor(o.Get("groups"), {groups, c}, "groups"),
          FloatView(o.Get("offsets"), {groups, c, 2}, "offsets")};
}

Napi::Array NumbersToJs(Napi::Env env, const std::vector<double>& values) {
  auto array = Napi::Array::New(env, values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    array.Set(static_cast<uint32_t>(i), std::isnan(values[i]) ? env.Null()
                                                              : Napi::Number::New(env, values[i]));
  }
  return array;
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
    o.Set("validationLoss", std::isnan(p.validationLoss) ? env.Null()
                                                          : Napi::Number::New(env, p.validationLoss));
  }
  return o;
}

}  // namespace

Napi::Function ModelWrap::Define(Napi::Env env) {
  return DefineClass(env, "Model",
                     {InstanceMethod<&ModelWrap::Train>("train"),
                      InstanceMethod<&ModelWrap::Predict>("predict"),
                      InstanceMethod<&ModelWrap::Cancel>("cancel"),
                      InstanceMethod<&ModelWrap::GetParameters>("getParameters"),
                      InstanceMethod<&ModelWrap::SetParameters>("setParameters"),
                      InstanceAccessor<&ModelWrap::ParameterCount>("parameterCount")});
}

// new Model({ n, channels, filterScale, ampActivation, probeBig, seed })
ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
  const auto o = info[0].As<Napi::Object>();
  NetworkConfig config;
  config.n = IntField(o, "n");
  config.channels = IntField(o, "channels");
  config.filterScale = IntField(o, "filterScale");
  config.probeBig = o.Get("probeBig").As<Napi::Boolean>().Value();
  try {
    config.ampActivation = ParseActivation(StringField(o, "ampActivation"));
    net_ = MakeNetwork(config, static_cast<uint64_t>(NumberField(o, "seed")));
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
}

// Claims and releases both happen on the JS thread (a job is destroyed there after it settles).
std::shared_ptr<void> ModelWrap::Claim(Napi::Env env, Access access, const char* what) {
  auto users = users_;
  if (users->writer || (access == Access::kWrite && users->readers > 0)) {
    throw Napi::Error::New(env, std::string("the model is busy ") +
                                    (users->writer ? "training or loading weights" : "predicting") +
                                    "; " + what + " must wait for it to finish");
  }
  if (access == Access::kWrite) {
    users->writer = true;
    return std::shared_ptr<void>(nullptr, [users](void*) { users->writer = false; });
  }
  ++users->readers;
  return std::shared_ptr<void>(nullptr, [users](void*) { --users->readers; });
}

// train({ train: grouped, validation?: grouped, probe, scale, epochs, batchSize, learningRate,
//         seed, loss, scheduler, earlyStopPatience, objectBig, threads }, onProgress?)
Napi::Value ModelWrap::Train(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto o = info[0].As<Napi::Object>();
  const int64_t n = net_->config.n, c = net_->config.channels;
  GroupedData train = GroupedFromJs(o.Get("train").As<Napi::Object>(), n, c);
  std::shared_ptr<GroupedData> validation;
  if (o.Get("validation").IsObject()) {
    validation = std::make_shared<GroupedData>(GroupedFromJs(o.Get("validation").As<Napi::Object>(), n, c));
  }
  TrainOptions options;
  options.epochs = IntField(o, "epochs");
  options.batchSize = IntField(o, "batchSize");
  options.learningRate = NumberField(o, "learningRate");
  options.seed = static_cast<uint64_t>(NumberField(o, "seed"));
  options.loss = StringField(o, "loss") == "mae" ? LossMode::kMae : LossMode::kPoisson;
  const std::string scheduler = StringField(o, "scheduler");
  options.scheduler = scheduler == "exponential" ? Scheduler::kExponential
                      : scheduler == "plateau"   ? Scheduler::kPlateau
                                                 : Scheduler::kNone;
  options.earlyStopPatience = IntField(o, "earlyStopPatience");
  options.objectBig = o.Get("objectBig").As<Napi::Boolean>().Value();
  const at::Tensor probe = ComplexView(o.Get("probe"), {n, n}, "probe");
  const double scale = NumberField(o, "scale");

  const int threads = static_cast<int>(IntField(o, "threads"));
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
  std::vector<Napi::Value> keep{info.This(), o};
  return RunTorchJob(
      env, threads, keep,
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
        *outcome = ptpinn::Train(net, train, validation.get(), probe, scale, options, report, *cancel);
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
        return out;
      });
}

// predict({ diffraction, nPatterns, groups, nGroups, scale, batchSize, threads })
//   -> Promise<{ data: Float32Array complex (G, C, N, N), shape }>
Napi::Value ModelWrap::Predict(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto o = info[0].As<Napi::Object>();
  const int64_t n = net_->config.n, c = net_->config.channels;
  const int64_t patterns = IntField(o, "nPatterns"), groups = IntField(o, "nGroups");
  const at::Tensor diffraction = FloatView(o.Get("diffraction"), {patterns, n, n}, "diffraction");
  const at::Tensor index = IndexTensor(o.Get("groups"), {groups, c}, "groups");
  const double scale = NumberField(o, "scale");
  const int64_t batchSize = IntField(o, "batchSize");
  auto token = Claim(env, Access::kRead, "predict");
  auto net = net_;
  auto result = std::make_shared<at::Tensor>();
  return RunTorchJob(
      env, static_cast<int>(IntField(o, "threads")), {info.This(), o},
      [=] { *result = ptpinn::Predict(net, diffraction, index, scale, batchSize); },
      [=](Napi::Env env) {
        (void)token;
        auto out = Napi::Object::New(env);
        out.Set("data", Float32ArrayFromTensor(env, *result));
        out.Set("shape", ShapeToJs(env, *result));
        return out;
      });
}

void ModelWrap::Cancel(const Napi::CallbackInfo&) { cancel_->store(true); }

// [{ name, shape, data: Float32Array }] in registration order (copies of the weights)
Napi::Value ModelWrap::GetParameters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto token = Claim(env, Access::kRead, "getParameters");
  const auto named = net_->named_parameters();
  auto list = Napi::Array::New(env, named.size());
  uint32_t i = 0;
  for (const auto& item : named) {
    auto entry = Napi::Object::New(env);
    entry.Set("name", item.key());
    entry.Set("shape", ShapeToJs(env, item.value()));
    entry.Set("data", Float32ArrayFromTensor(env, item.value().detach().clone()));
    list.Set(i++, entry);
  }
  return list;
}

// setParameters([{ name, shape, data }]): every parameter, exactly once, with its shape
void ModelWrap::SetParameters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto token = Claim(env, Access::kWrite, "setParameters");
  auto named = net_->named_parameters();
  const auto list = info[0].As<Napi::Array>();
  std::set<std::string> seen;
  std::vector<std::pair<at::Tensor, at::Tensor>> copies;
  for (uint32_t i = 0; i < list.Length(); ++i) {
    const auto entry = list.Get(i).As<Napi::Object>();
    const std::string name = StringField(entry, "name");
    const at::Tensor* target = named.find(name);
    if (!target) throw Napi::Error::New(env, "unknown parameter '" + name + "'");
    if (!seen.insert(name).second) throw Napi::Error::New(env, "parameter '" + name + "' given twice");
    const auto shape = ShapeFromJs(entry.Get("shape"), name.c_str());
    if (target->sizes().vec() != shape) {
      throw Napi::Error::New(env, "parameter '" + name + "' has shape " +
                                      c10::str(c10::IntArrayRef(shape)) + ", the network needs " +
                                      c10::str(target->sizes()));
    }
    copies.emplace_back(*target, FloatView(entry.Get("data"), shape, name.c_str()));
  }
  for (const auto& item : named) {
    if (!seen.count(item.key())) throw Napi::Error::New(env, "parameter '" + item.key() + "' is missing");
  }
  torch::NoGradGuard noGrad;
  for (auto& [target, source] : copies) target.copy_(source);
}

Napi::Value ModelWrap::ParameterCount(const Napi::CallbackInfo& info) {
  int64_t count = 0;
  for (const auto& p : net_->parameters()) count += p.numel();
  return Napi::Number::New(info.Env(), static_cast<double>(count));
}

}  // namespace ptpinn
