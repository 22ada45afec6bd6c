// The metrics addon (ptychopinn_metrics.node): the quality metrics of metrics.h for JS, with no
// LibTorch, so that `compare` and `infer --backend onnx` score reconstructions where LibTorch is
// not installed. Its calls are checked like the LibTorch addon's (js_boundary.h).
#include <napi.h>

#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "../job.h"
#include "../js_boundary.h"
#include "metrics.h"

namespace ptpinn {

std::string ExceptionMessage(const std::exception& e) { return e.what(); }

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

Napi::Float32Array ImageToJs(Napi::Env env, const metrics::Real& image) {
  auto out = Napi::Float32Array::New(env, image.v.size());
  for (size_t i = 0; i < image.v.size(); ++i) out[i] = static_cast<float>(image.v[i]);
  return out;
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

void RequireFinite(Napi::Env env, bool finite, const char* what) {
  if (!finite) throw Napi::RangeError::New(env, std::string(what) + " must be finite");
}

// A real Float64Array image, every value finite.
metrics::Real FiniteImage(const Napi::Value& value, const std::vector<int64_t>& shape, const char* what) {
  // the array is checked against the shape before anything of the shape's size is allocated
  std::vector<double> data = Float64Copy(value, static_cast<size_t>(shape[0] * shape[1]), what);
  metrics::Real image;
  image.h = shape[0];
  image.w = shape[1];
  image.v = std::move(data);
  bool finite = true;
  for (double v : image.v) finite = finite && std::isfinite(v);
  RequireFinite(value.Env(), finite, what);
  return image;
}

// A complex object: interleaved (re, im) Float32Array, every value finite.
metrics::Field ComplexImage(const Napi::Value& value, const std::vector<int64_t>& shape, const char* what) {
  const std::vector<float> data = Float32Copy(value, static_cast<size_t>(2 * shape[0] * shape[1]), what);
  metrics::Field image(shape[0], shape[1]);
  bool finite = true;
  for (size_t i = 0; i < image.v.size(); ++i) {
    finite = finite && std::isfinite(data[2 * i]) && std::isfinite(data[2 * i + 1]);
    image.v[i] = {data[2 * i], data[2 * i + 1]};
  }
  RequireFinite(value.Env(), finite, what);
  return image;
}

// compareObjects(a: complex Float32Array, aShape, b: complex Float32Array, bShape,
//   { offsetRow, offsetCol, top, left, height, width, registration, maxShift, upsample, removeRamp })
//   -> Promise<comparison>
Napi::Value CompareObjects(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto aShape = ImageShape(info[1], "a", 1), bShape = ImageShape(info[3], "b", 1);
  auto a = std::make_shared<metrics::Field>(ComplexImage(info[0], aShape, "a"));
  auto b = std::make_shared<metrics::Field>(ComplexImage(info[2], bShape, "b"));
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
  return RunJob(
      env, [=] { *result = metrics::Compare(*a, *b, options); },
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
        images.Set("amplitudeA", ImageToJs(env, c.amplitudeA));
        images.Set("amplitudeB", ImageToJs(env, c.amplitudeB));
        images.Set("phaseA", ImageToJs(env, c.phaseA));
        images.Set("phaseB", ImageToJs(env, c.phaseB));
        images.Set("covered", ImageToJs(env, c.covered));
        out.Set("images", images);
        return out;
      });
}

// The parts, for checks against independent implementations. Real Float64Array images (H, W).
// registerShift(reference, moving, shape, maxShift, upsample) -> [dy, dx]
Napi::Value RegisterShift(const Napi::CallbackInfo& info) {
  const auto shape = ImageShape(info[2], "images", 2);
  const metrics::Real r = FiniteImage(info[0], shape, "reference"), m = FiniteImage(info[1], shape, "moving");
  const auto [dy, dx] =
      metrics::RegisterShift(metrics::ToField(r), metrics::ToField(m), NumberArg(info[3], "maxShift", 0, kMaxSide),
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
}  // namespace ptpinn

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace ptpinn;
  exports.Set("compareObjects", Napi::Function::New(env, Entry<CompareObjects>, "compareObjects"));
  exports.Set("registerShift", Napi::Function::New(env, Entry<RegisterShift>, "registerShift"));
  exports.Set("ssim", Napi::Function::New(env, Entry<Ssim>, "ssim"));
  exports.Set("frc", Napi::Function::New(env, Entry<Frc>, "frc"));
  return exports;
}

NODE_API_MODULE(ptychopinn_metrics, Init)
