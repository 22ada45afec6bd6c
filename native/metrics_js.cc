#include "metrics_js.h"

#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>

#include "js_boundary.h"
#include "metrics.h"
#include "tensor_bridge.h"
#include "torch_job.h"

namespace ptpinn {
namespace {

constexpr int64_t kMaxSide = int64_t{1} << 16;

// JSON has no infinities: a PSNR of identical images and a crossing that never happens are null
Napi::Value NumberOrNull(Napi::Env env, double v) { return std::isfinite(v) ? Napi::Number::New(env, v) : env.Null(); }

template <typename T>
Napi::Array ListToJs(Napi::Env env, const std::vector<T>& values) {
  auto out = Napi::Array::New(env, values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    out.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(values[i])));
  }
  return out;
}

Napi::Object FrcToJs(Napi::Env env, const metrics::FrcCurve& f) {
  auto o = Napi::Object::New(env);
  o.Set("frequency", ListToJs(env, f.frequency));
  o.Set("frc", ListToJs(env, f.frc));
  o.Set("halfBit", ListToJs(env, f.halfBit));
  o.Set("pixels", ListToJs(env, f.pixels));
  o.Set("halfBitCrossing", NumberOrNull(env, f.halfBitCrossing));
  o.Set("seventhCrossing", NumberOrNull(env, f.seventhCrossing));
  return o;
}

Napi::Object ScoresToJs(Napi::Env env, const metrics::Scores& s) {
  auto o = Napi::Object::New(env);
  o.Set("mae", s.mae);
  o.Set("rmse", s.rmse);
  o.Set("psnr", NumberOrNull(env, s.psnr));
  o.Set("ssim", s.ssim);
  o.Set("correlation", s.correlation);
  o.Set("dataRange", s.dataRange);
  o.Set("frc", FrcToJs(env, s.frc));
  return o;
}

// (H, W) of a 2-d image of at least `min` a side
std::vector<int64_t> ImageShape(const Napi::Value& value, const char* what, int64_t min) {
  auto shape = ShapeFromJs(value, what);
  if (shape.size() != 2 || shape[0] < min || shape[1] < min || shape[0] > kMaxSide || shape[1] > kMaxSide) {
    throw Napi::RangeError::New(value.Env(), std::string(what) + " shape must be [H, W] with " + std::to_string(min) +
                                                 " to " + std::to_string(kMaxSide) + " a side");
  }
  return shape;
}

at::Tensor FiniteImage(const Napi::Value& value, const std::vector<int64_t>& shape, const char* what) {
  at::Tensor t = Float64View(value, shape, what);
  RequireFinite(value.Env(), t, what);
  return t;
}

// compareObjects(a: complex Float32Array, aShape, b: complex Float32Array, bShape,
//   { offsetRow, offsetCol, top, left, height, width, registration, maxShift, upsample, removeRamp },
//   threads) -> Promise<comparison>
Napi::Value CompareObjects(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto aShape = ImageShape(info[1], "a", 1), bShape = ImageShape(info[3], "b", 1);
  const at::Tensor a = ComplexView(info[0], aShape, "a"), b = ComplexView(info[2], bShape, "b");
  RequireFinite(env, a, "a");
  RequireFinite(env, b, "b");
  const auto o = ObjectArg(info[4], "options");
  metrics::CompareOptions options;
  options.offsetRow = IntegerArg(o.Get("offsetRow"), "offsetRow", -kMaxSide, kMaxSide);
  options.offsetCol = IntegerArg(o.Get("offsetCol"), "offsetCol", -kMaxSide, kMaxSide);
  options.top = IntegerArg(o.Get("top"), "top", 0, bShape[0] - 1);
  options.left = IntegerArg(o.Get("left"), "left", 0, bShape[1] - 1);
  options.height = IntegerArg(o.Get("height"), "height", 1, bShape[0] - options.top);
  options.width = IntegerArg(o.Get("width"), "width", 1, bShape[1] - options.left);
  options.registration = BoolArg(o.Get("registration"), "registration");
  options.maxShift = NumberArg(o.Get("maxShift"), "maxShift", 0, 256);
  options.upsample = IntegerArg(o.Get("upsample"), "upsample", 1, 1000);
  options.removeRamp = BoolArg(o.Get("removeRamp"), "removeRamp");
  auto result = std::make_shared<metrics::Comparison>();
  return RunTorchJob(
      env, ThreadsArg(info[5]),
      [=] {
        c10::InferenceMode guard;
        *result = metrics::Compare(a, b, options);
      },
      [=](Napi::Env env) {
        const auto& c = *result;
        auto out = Napi::Object::New(env);
        auto pair = [&](double x, double y) {
          auto p = Napi::Array::New(env, 2);
          p.Set(0u, x);
          p.Set(1u, y);
          return p;
        };
        out.Set("shift", pair(c.shiftRow, c.shiftCol));
        out.Set("phaseOffset", c.phaseOffset);
        out.Set("phaseRamp", pair(c.rampRow, c.rampCol));
        out.Set("amplitudeScale", c.amplitudeScale);
        out.Set("pixels", static_cast<double>(c.pixels));
        out.Set("complexCorrelation", c.complexCorrelation);
        out.Set("amplitude", ScoresToJs(env, c.amplitude));
        out.Set("phase", ScoresToJs(env, c.phase));
        auto images = Napi::Object::New(env);
        images.Set("amplitudeA", Float32ArrayFromTensor(env, c.amplitudeA));
        images.Set("amplitudeB", Float32ArrayFromTensor(env, c.amplitudeB));
        images.Set("phaseA", Float32ArrayFromTensor(env, c.phaseA));
        images.Set("phaseB", Float32ArrayFromTensor(env, c.phaseB));
        images.Set("covered", Float32ArrayFromTensor(env, c.covered));
        out.Set("images", images);
        return out;
      });
}

// The parts, for checks against independent implementations. Real Float64Array images (H, W).
// registerShift(reference, moving, shape, maxShift, upsample) -> [dy, dx]
Napi::Value RegisterShift(const Napi::CallbackInfo& info) {
  const auto shape = ImageShape(info[2], "images", 2);
  const at::Tensor r = FiniteImage(info[0], shape, "reference"), m = FiniteImage(info[1], shape, "moving");
  const auto [dy, dx] = metrics::RegisterShift(r, m, NumberArg(info[3], "maxShift", 0, kMaxSide),
                                               IntegerArg(info[4], "upsample", 1, 1000));
  auto out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, dy);
  out.Set(1u, dx);
  return out;
}

// ssim(x, y, shape, dataRange) -> number
Napi::Value Ssim(const Napi::CallbackInfo& info) {
  const auto shape = ImageShape(info[2], "images", 11);
  return Napi::Number::New(info.Env(), metrics::Ssim(FiniteImage(info[0], shape, "x"), FiniteImage(info[1], shape, "y"),
                                                     NumberArg(info[3], "dataRange", 1e-300, 1e300)));
}

// frc(x, y, shape) -> curve
Napi::Value Frc(const Napi::CallbackInfo& info) {
  const auto shape = ImageShape(info[2], "images", 4);
  return FrcToJs(info.Env(), metrics::Frc(FiniteImage(info[0], shape, "x"), FiniteImage(info[1], shape, "y")));
}

}  // namespace

void RegisterMetrics(Napi::Env env, Napi::Object exports) {
  exports.Set("compareObjects", Napi::Function::New(env, Entry<CompareObjects>, "compareObjects"));
  exports.Set("registerShift", Napi::Function::New(env, Entry<RegisterShift>, "registerShift"));
  exports.Set("ssim", Napi::Function::New(env, Entry<Ssim>, "ssim"));
  exports.Set("frc", Napi::Function::New(env, Entry<Frc>, "frc"));
}

}  // namespace ptpinn
