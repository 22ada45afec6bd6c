// Module registration and the JS-facing argument handling of each native function.
#include <ATen/Parallel.h>
#include <napi.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include "allocator.h"
#include "iterative_js.h"
#include "js_boundary.h"
#include "model_wrap.h"
#include "physics.h"
#include "stitching.h"
#include "stitching_js.h"
#include "tensor_bridge.h"
#include "torch_job.h"

namespace ptpinn {
namespace {

Napi::Object TensorToJs(Napi::Env env, const at::Tensor& tensor) {
  auto out = Napi::Object::New(env);
  out.Set("data", Float32ArrayFromTensor(env, tensor));
  out.Set("shape", ShapeToJs(env, tensor));
  return out;
}

// Runs `compute` off the main thread and resolves with its tensor as { data, shape }.
Napi::Promise TensorJob(Napi::Env env, const Napi::Value& threads, std::function<at::Tensor()> compute) {
  auto result = std::make_shared<at::Tensor>();
  return RunTorchJob(
      env, ThreadsArg(threads),
      [=] {
        c10::InferenceMode guard;
        *result = compute();
      },
      [=](Napi::Env env) { return TensorToJs(env, *result); });
}

// A complex patch shape (..., N, N) with N > 0.
std::vector<int64_t> PatchShape(const Napi::Value& value, const char* what, size_t rank) {
  auto shape = ShapeFromJs(value, what);
  if (shape.size() != rank || shape.back() < 1 || shape[rank - 2] != shape.back()) {
    throw Napi::RangeError::New(value.Env(), std::string(what) + " shape must be " + std::to_string(rank) +
                                                 " dimensions ending in N, N with N > 0");
  }
  return shape;
}

// diffract(patch: Float32Array (complex), patchShape: [B, N, N], probe: Float32Array (complex),
//          threads?) -> Promise<{ data: Float32Array, shape }>
Napi::Value Diffract(const Napi::CallbackInfo& info) {
  auto patch = ComplexView(info[0], PatchShape(info[1], "patch", 3), "patch");
  const int64_t n = patch.size(-1);
  auto probe = ComplexView(info[2], {n, n}, "probe");
  return TensorJob(info.Env(), info[3], [=] { return physics::Diffract(patch, probe); });
}

// poissonLossGradient(patch, patchShape, probe, measured: Float32Array (B, N, N), threads?)
//   -> Promise<{ loss: number, gradient: Float32Array (interleaved dRe, dIm) }>
Napi::Value PoissonLossGradient(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto shape = PatchShape(info[1], "patch", 3);
  auto patch = ComplexView(info[0], shape, "patch");
  const int64_t n = patch.size(-1);
  auto probe = ComplexView(info[2], {n, n}, "probe");
  auto measured = FloatView(info[3], shape, "measured");
  auto result = std::make_shared<physics::LossAndGradient>();
  return RunTorchJob(
      env, ThreadsArg(info[4]), [=] { *result = physics::PoissonLossAndGradient(patch, probe, measured); },
      [=](Napi::Env env) {
        auto out = Napi::Object::New(env);
        out.Set("loss", Napi::Number::New(env, result->loss.item<double>()));
        out.Set("gradient", Float32ArrayFromTensor(env, result->gradient));
        return out;
      });
}

// extractPatches(object: complex Float32Array, [H, W], positions: Float64Array (K, 2), n, threads)
Napi::Value ExtractPatches(const Napi::CallbackInfo& info) {
  const auto shape = ShapeFromJs(info[1], "object");
  if (shape.size() != 2 || shape[0] < 2 || shape[1] < 2) {
    throw Napi::RangeError::New(info.Env(), "object shape must be [H, W] with H, W >= 2");
  }
  auto object = ComplexView(info[0], shape, "object");
  const int64_t n = IntegerArg(info[3], "n", 1, 4096);
  if (!info[2].IsTypedArray()) throw Napi::TypeError::New(info.Env(), "positions must be a Float64Array");
  const int64_t length = static_cast<int64_t>(info[2].As<Napi::TypedArray>().ElementLength());
  if (length % 2 != 0) throw Napi::RangeError::New(info.Env(), "positions must hold (x, y) pairs");
  auto positions = Float64View(info[2], {length / 2, 2}, "positions");
  RequireFinite(info.Env(), positions, "positions");
  return TensorJob(info.Env(), info[4], [=] { return stitching::ExtractPatches(object, positions, n); });
}

// stitch(patches: complex Float32Array, [K, N, N], positions: Float64Array (K, 2),
//        weights: Float32Array (N, N), { originRow, originCol, height, width }, floor, threads,
//        align?: { groups: Int32Array (K), passes })
Napi::Value Stitch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto shape = PatchShape(info[1], "patches", 3);
  auto patches = ComplexView(info[0], shape, "patches");
  const int64_t n = shape.back();
  auto positions = Float64View(info[2], {shape[0], 2}, "positions");
  RequireFinite(env, positions, "positions");
  auto weights = FloatView(info[3], {n, n}, "weights");
  const stitching::Canvas canvas = CanvasArg(info[4], "canvas");
  const double floor = NumberArg(info[5], "floor", 0, 1);
  if (info[7].IsUndefined()) {
    return TensorJob(env, info[6], [=] { return stitching::Stitch(patches, positions, weights, canvas, floor); });
  }
  // { groups: Int32Array (K), passes }: phase alignment of the groups before the final stitch
  const auto a = ObjectArg(info[7], "align");
  const at::Tensor groups = IndexTensor(a.Get("groups"), {shape[0]}, "align.groups");
  if (shape[0] > 0 && groups.min().item<int64_t>() < 0) throw Napi::RangeError::New(env, "align.groups must be >= 0");
  if (shape[0] > 0 && groups.max().item<int64_t>() >= shape[0])
    throw Napi::RangeError::New(env, "align.groups must be below the patch count");
  const int64_t passes = IntegerArg(a.Get("passes"), "align.passes", 0, 100);
  return TensorJob(env, info[6], [=] {
    return stitching::StitchAligned(patches, positions, weights, canvas, floor, groups, passes);
  });
}

// mergeGroup(patches: complex Float32Array, [B, C, N, N], offsets: Float32Array (B, C, 2), threads)
Napi::Value MergeGroup(const Napi::CallbackInfo& info) {
  const auto shape = PatchShape(info[1], "patches", 4);
  auto patches = ComplexView(info[0], shape, "patches");
  auto offsets = FloatView(info[2], {shape[0], shape[1], 2}, "offsets");
  physics::CheckOffsets(offsets, shape.back());  // finite, and within 2N
  return TensorJob(info.Env(), info[3], [=] { return physics::MergeGroup(patches, offsets); });
}

// propagate(probe: complex Float32Array, n, defocus, threads) -> Promise<{ data, shape }>
Napi::Value Propagate(const Napi::CallbackInfo& info) {
  const int64_t n = IntegerArg(info[1], "n", 1, 4096);
  auto probe = ComplexView(info[0], {n, n}, "probe");
  RequireFinite(info.Env(), at::view_as_real(probe), "probe");
  const double defocus = NumberArg(info[2], "defocus", -1e12, 1e12);
  return TensorJob(info.Env(), info[3], [=] { return physics::Propagate(probe, defocus); });
}

}  // namespace
}  // namespace ptpinn

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace ptpinn;
  exports.Set("allocator", Napi::String::New(env, ConfigureAllocator()));
  exports.Set("torchVersion", Napi::String::New(env, TORCH_VERSION));
  exports.Set("layout", Napi::String::New(env, ChannelsLastLayout() ? "NHWC (channels-last)" : "NCHW"));
  exports.Set("cudaAvailable", Napi::Boolean::New(env, torch::cuda::is_available()));
  exports.Set("diffract", Napi::Function::New(env, Entry<Diffract>, "diffract"));
  exports.Set("extractPatches", Napi::Function::New(env, Entry<ExtractPatches>, "extractPatches"));
  exports.Set("stitch", Napi::Function::New(env, Entry<Stitch>, "stitch"));
  exports.Set("propagate", Napi::Function::New(env, Entry<Propagate>, "propagate"));
  exports.Set("mergeGroup", Napi::Function::New(env, Entry<MergeGroup>, "mergeGroup"));
  exports.Set("Model", ModelWrap::Define(env));
  RegisterIterative(env, exports);
  exports.Set("poissonLossGradient", Napi::Function::New(env, Entry<PoissonLossGradient>, "poissonLossGradient"));
  return exports;
}

NODE_API_MODULE(ptychopinn, Init)
