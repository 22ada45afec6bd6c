#include "iterative_js.h"

#include <atomic>
#include <cstring>
#include <memory>
#include <string>

#include "iterative.h"
#include "js_boundary.h"
#include "tensor_bridge.h"
#include "torch_job.h"

namespace ptpinn {
namespace {

constexpr int64_t kMaxCount = int64_t{1} << 31;

// iterate({ diffraction, nPatterns, patterns: Int32Array (K), positions: Float64Array (K, 2),
//   probe, n, canvas: { originRow, originCol, height, width }, initial?: complex (H, W),
//   method, iterations, probeStart, alpha, beta, positionStart, seed, threads }, onProgress?)
//   -> { promise: Promise<{ object, probe, positions, error, cancelled }>, cancel() }
Napi::Value Iterate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto o = ObjectArg(info[0], "iterate options");
  const int64_t n = IntegerArg(o.Get("n"), "n", 2, 1024);
  const int64_t patterns = IntegerArg(o.Get("nPatterns"), "nPatterns", 1, kMaxCount);
  if (!o.Get("patterns").IsTypedArray()) throw Napi::TypeError::New(env, "patterns must be an Int32Array");
  const int64_t count = static_cast<int64_t>(o.Get("patterns").As<Napi::TypedArray>().ElementLength());
  if (count < 1) throw Napi::RangeError::New(env, "patterns must name at least one pattern");
  const at::Tensor rows = IndexTensor(o.Get("patterns"), {count}, "patterns");
  if (rows.min().item<int64_t>() < 0 || rows.max().item<int64_t>() >= patterns) {
    throw Napi::RangeError::New(env, "patterns must hold indices from 0 to " + std::to_string(patterns - 1));
  }
  const at::Tensor amplitudes = RowsOf(o.Get("diffraction"), {patterns, n, n}, rows, "diffraction");
  const at::Tensor positions = Float64View(o.Get("positions"), {count, 2}, "positions");
  RequireFinite(env, positions, "positions");
  const at::Tensor probe = ComplexView(o.Get("probe"), {n, n}, "probe");
  RequireFinite(env, probe, "probe");
  const auto c = ObjectArg(o.Get("canvas"), "canvas");
  constexpr double kFar = 1e9;
  const stitching::Canvas canvas{NumberArg(c.Get("originRow"), "canvas.originRow", -kFar, kFar),
                                 NumberArg(c.Get("originCol"), "canvas.originCol", -kFar, kFar),
                                 IntegerArg(c.Get("height"), "canvas.height", n + 2, 1 << 16),
                                 IntegerArg(c.Get("width"), "canvas.width", n + 2, 1 << 16)};
  if (canvas.height * canvas.width > (int64_t{1} << 28))
    throw Napi::RangeError::New(env, "canvas larger than 2^28 pixels");
  at::Tensor initial;
  if (!o.Get("initial").IsUndefined()) {
    initial = ComplexView(o.Get("initial"), {canvas.height, canvas.width}, "initial");
    RequireFinite(env, initial, "initial");
  }
  iterative::Options options;
  options.method = static_cast<iterative::Method>(ChoiceArg(o.Get("method"), "method", {"epie", "rpie"}));
  options.iterations = IntegerArg(o.Get("iterations"), "iterations", 1, 1 << 20);
  options.probeStart = IntegerArg(o.Get("probeStart"), "probeStart", 0, kMaxCount);
  options.alpha = NumberArg(o.Get("alpha"), "alpha", 1e-6, 10);
  options.beta = NumberArg(o.Get("beta"), "beta", 1e-6, 10);
  options.positionStart = IntegerArg(o.Get("positionStart"), "positionStart", -1, kMaxCount);
  options.seed = static_cast<uint64_t>(IntegerArg(o.Get("seed"), "seed", 0, (int64_t{1} << 32) - 1));
  const int threads = ThreadsArg(o.Get("threads"));
  if (!info[1].IsUndefined() && !info[1].IsFunction()) throw Napi::TypeError::New(env, "onProgress must be a function");

  auto cancel = std::make_shared<std::atomic<bool>>(false);
  Napi::ThreadSafeFunction progress;
  if (info[1].IsFunction()) {
    progress = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "ptychopinn.iterate", 0, 1);
  }
  auto result = std::make_shared<iterative::Result>();
  auto promise = RunTorchJob(
      env, threads,
      [=]() mutable {
        std::shared_ptr<void> release(nullptr, [progress](void*) mutable {
          if (progress) progress.Release();
        });
        auto report = [progress](const iterative::Progress& p) mutable {
          if (!progress) return;
          progress.NonBlockingCall(new iterative::Progress(p),
                                   [](Napi::Env env, Napi::Function fn, iterative::Progress* data) {
                                     std::unique_ptr<iterative::Progress> owned(data);
                                     auto o = Napi::Object::New(env);
                                     o.Set("iteration", static_cast<double>(owned->iteration));
                                     o.Set("iterations", static_cast<double>(owned->iterations));
                                     o.Set("error", owned->error);
                                     fn.Call({o});
                                   });
        };
        c10::InferenceMode guard;
        *result = iterative::Reconstruct(amplitudes, positions, probe, canvas, initial, options, report, *cancel);
      },
      [=](Napi::Env env) {
        auto out = Napi::Object::New(env);
        out.Set("object", Float32ArrayFromTensor(env, result->object));
        out.Set("objectShape", ShapeToJs(env, result->object));
        out.Set("probe", Float32ArrayFromTensor(env, result->probe));
        auto positions = Napi::Float64Array::New(env, static_cast<size_t>(result->positions.numel()));
        std::memcpy(positions.Data(), result->positions.data_ptr<double>(), positions.ByteLength());
        out.Set("positions", positions);
        auto error = Napi::Array::New(env, result->error.size());
        for (size_t i = 0; i < result->error.size(); ++i) error.Set(static_cast<uint32_t>(i), result->error[i]);
        out.Set("error", error);
        out.Set("cancelled", result->cancelled);
        return out;
      });
  auto handle = Napi::Object::New(env);
  handle.Set("promise", promise);
  handle.Set("cancel", Napi::Function::New(
                           env,
                           [cancel](const Napi::CallbackInfo& info) {
                             cancel->store(true);
                             return info.Env().Undefined();
                           },
                           "cancel"));
  return handle;
}

}  // namespace

void RegisterIterative(Napi::Env env, Napi::Object exports) {
  exports.Set("iterate", Napi::Function::New(env, Entry<Iterate>, "iterate"));
}

}  // namespace ptpinn
