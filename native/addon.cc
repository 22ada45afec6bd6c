// Module registration and the JS-facing argument handling of each native function.
#include <ATen/Parallel.h>
#include <napi.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include "model_wrap.h"
#include "physics.h"
#include "stitching.h"
#include "tensor_bridge.h"
#include "torch_job.h"

namespace ptpinn {
namespace {

int ThreadsArg(const Napi::Value& value) {
  if (value.IsUndefined()) return 0;
  if (!value.IsNumber()) throw Napi::TypeError::New(value.Env(), "threads must be a number");
  return value.As<Napi::Number>().Int32Value();
}

Napi::Object TensorToJs(Napi::Env env, const at::Tensor& tensor) {
  auto out = Napi::Object::New(env);
  out.Set("data", Float32ArrayFromTensor(env, tensor));
  out.Set("shape", ShapeToJs(env, tensor));
  return out;
}

// Runs `compute` off the main thread and resolves with its tensor as { data, shape }.
Napi::Promise TensorJob(Napi::Env env, const Napi::Value& threads, std::vector<Napi::Value> keep,
                        std::function<at::Tensor()> compute) {
  auto result = std::make_shared<at::Tensor>();
  return RunTorchJob(
      env, ThreadsArg(threads), std::move(keep),
      [=] {
        c10::InferenceMode guard;
        *result = compute();
      },
      [=](Napi::Env env) { return TensorToJs(env, *result); });
}

// diffract(patch: Float32Array (complex), patchShape: [B, N, N], probe: Float32Array (complex),
//          threads?) -> Promise<{ data: Float32Array, shape }>
Napi::Value Diffract(const Napi::CallbackInfo& info) {
  auto patch = ComplexView(info[0], ShapeFromJs(info[1], "patch"), "patch");
  const int64_t n = patch.size(-1);
  auto probe = ComplexView(info[2], {n, n}, "probe");
  return TensorJob(info.Env(), info[3], {info[0], info[2]},
                   [=] { return physics::Diffract(patch, probe); });
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

// extractPatches(object: complex Float32Array, [H, W], positions: Float64Array (K, 2), n, threads)
Napi::Value ExtractPatches(const Napi::CallbackInfo& info) {
  auto object = ComplexView(info[0], ShapeFromJs(info[1], "object"), "object");
  const int64_t n = info[3].As<Napi::Number>().Int64Value();
  const int64_t k = info[2].As<Napi::Float64Array>().ElementLength() / 2;
  auto positions = Float64View(info[2], {k, 2}, "positions");
  return TensorJob(info.Env(), info[4], {info[0], info[2]},
                   [=] { return stitching::ExtractPatches(object, positions, n); });
}

// stitch(patches: complex Float32Array, [K, N, N], positions: Float64Array (K, 2),
//        weights: Float32Array (N, N), { originRow, originCol, height, width }, floor, threads)
Napi::Value Stitch(const Napi::CallbackInfo& info) {
  const auto shape = ShapeFromJs(info[1], "patches");
  auto patches = ComplexView(info[0], shape, "patches");
  const int64_t n = shape.back();
  auto positions = Float64View(info[2], {shape[0], 2}, "positions");
  auto weights = FloatView(info[3], {n, n}, "weights");
  const auto c = info[4].As<Napi::Object>();
  const stitching::Canvas canvas{c.Get("originRow").As<Napi::Number>().DoubleValue(),
                                 c.Get("originCol").As<Napi::Number>().DoubleValue(),
                                 c.Get("height").As<Napi::Number>().Int64Value(),
                                 c.Get("width").As<Napi::Number>().Int64Value()};
  const double floor = info[5].As<Napi::Number>().DoubleValue();
  return TensorJob(info.Env(), info[6], {info[0], info[2], info[3]},
                   [=] { return stitching::Stitch(patches, positions, weights, canvas, floor); });
}

// mergeGroup(patches: complex Float32Array, [B, C, N, N], offsets: Float32Array (B, C, 2), threads)
Napi::Value MergeGroup(const Napi::CallbackInfo& info) {
  const auto shape = ShapeFromJs(info[1], "patches");
  auto patches = ComplexView(info[0], shape, "patches");
  auto offsets = FloatView(info[2], {shape[0], shape[1], 2}, "offsets");
  return TensorJob(info.Env(), info[3], {info[0], info[2]},
                   [=] { return physics::MergeGroup(patches, offsets); });
}

}  // namespace
}  // namespace ptpinn

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace ptpinn;
  exports.Set("torchVersion", Napi::String::New(env, TORCH_VERSION));
  exports.Set("cudaAvailable", Napi::Boolean::New(env, torch::cuda::is_available()));
  exports.Set("diffract", Napi::Function::New(env, Diffract, "diffract"));
  exports.Set("extractPatches", Napi::Function::New(env, ExtractPatches, "extractPatches"));
  exports.Set("stitch", Napi::Function::New(env, Stitch, "stitch"));
  exports.Set("mergeGroup", Napi::Function::New(env, MergeGroup, "mergeGroup"));
  exports.Set("Model", ModelWrap::Define(env));
  exports.Set("poissonLossGradient",
              Napi::Function::New(env, PoissonLossGradient, "poissonLossGradient"));
  return exports;
}

NODE_API_MODULE(ptychopinn, Init)
