// Module registration and the JS-facing argument handling of each native function.
#include <ATen/Parallel.h>
#include <napi.h>
#include <torch/version.h>

#include "physics.h"
#include "tensor_bridge.h"
#include "torch_job.h"

namespace ptpinn {
namespace {

int ThreadsArg(const Napi::Value& value) {
  if (value.IsUndefined()) return 0;
  if (!value.IsNumber()) throw Napi::TypeError::New(value.Env(), "threads must be a number");
  return value.As<Napi::Number>().Int32Value();
}

// diffract(patch: Float32Array (complex), patchShape: [B, N, N], probe: Float32Array (complex),
//          threads?) -> Promise<{ data: Float32Array, shape }>
Napi::Value Diffract(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto patch = ComplexView(info[0], ShapeFromJs(info[1], "patch"), "patch");
  const int64_t n = patch.size(-1);
  auto probe = ComplexView(info[2], {n, n}, "probe");
  auto result = std::make_shared<at::Tensor>();
  return RunTorchJob(
      env, ThreadsArg(info[3]), {info[0], info[2]},
      [=] {
        c10::InferenceMode guard;
        *result = physics::Diffract(patch, probe);
      },
      [=](Napi::Env env) {
        auto out = Napi::Object::New(env);
        out.Set("data", Float32ArrayFromTensor(env, *result));
        out.Set("shape", ShapeToJs(env, *result));
        return out;
      });
}

// poissonLossGradient(patch, patchShape, probe, measured: Float32Array (B, N, N), threads?)
//   -> Promise<{ loss: number, gradient: Float32Array (interleaved dRe, dIm) }>
Napi::Value PoissonLossGradient(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto shape = ShapeFromJs(info[1], "patch");
  auto patch = ComplexView(info[0], shape, "patch");
  const int64_t n = patch.size(-1);
  auto probe = ComplexView(info[2], {n, n}, "probe");
  auto measured = FloatView(info[3], shape, "measured");
  auto result = std::make_shared<physics::LossAndGradient>();
  return RunTorchJob(
      env, ThreadsArg(info[4]), {info[0], info[2], info[3]},
      [=] { *result = physics::PoissonLossAndGradient(patch, probe, measured); },
      [=](Napi::Env env) {
        auto out = Napi::Object::New(env);
        out.Set("loss", Napi::Number::New(env, result->loss.item<double>()));
        out.Set("gradient", Float32ArrayFromTensor(env, result->gradient));
        return out;
      });
}

}  // namespace
}  // namespace ptpinn

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace ptpinn;
  exports.Set("torchVersion", Napi::String::New(env, TORCH_VERSION));
  exports.Set("diffract", Napi::Function::New(env, Diffract, "diffract"));
  exports.Set("poissonLossGradient",
              Napi::Function::New(env, PoissonLossGradient, "poissonLossGradient"));
  return exports;
}

NODE_API_MODULE(ptychopinn, Init)
