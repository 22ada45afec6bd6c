#include "js_boundary.h"

#include <cmath>
#include <sstream>

namespace ptpinn {

namespace {

std::string Describe(const Napi::Value& value) {
  if (value.IsUndefined()) return "undefined";
  if (value.IsNull()) return "null";
  if (value.IsNumber()) {
    const double d = value.As<Napi::Number>().DoubleValue();
    if (std::isnan(d)) return "NaN";
    std::ostringstream text;
    text.precision(15);
    text << d;
    return text.str();
  }
  if (value.IsString()) return "'" + value.As<Napi::String>().Utf8Value() + "'";
  if (value.IsBoolean()) return value.As<Napi::Boolean>().Value() ? "true" : "false";
  if (value.IsArray()) return "an array";
  if (value.IsTypedArray()) return "a typed array";
  if (value.IsFunction()) return "a function";
  return "an object";
}

template <typename T>
std::vector<T> TypedArrayCopy(const Napi::Value& value, size_t count, const char* what, napi_typedarray_type type,
                              const char* typeName) {
  CheckTypedArray(value, count, what, type, typeName);
  auto array = value.As<Napi::TypedArrayOf<T>>();
  return std::vector<T>(array.Data(), array.Data() + count);
}

}  // namespace

int64_t IntegerArg(const Napi::Value& value, const std::string& what, int64_t min, int64_t max) {
  if (!value.IsNumber()) {
    throw Napi::TypeError::New(value.Env(), what + " must be an integer, got " + Describe(value));
  }
  const double d = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || d < static_cast<double>(min) || d > static_cast<double>(max)) {
    throw Napi::RangeError::New(value.Env(), what + " must be an integer from " + std::to_string(min) + " to " +
                                                 std::to_string(max) + ", got " + Describe(value));
  }
  return static_cast<int64_t>(d);
}

double NumberArg(const Napi::Value& value, const std::string& what, double min, double max) {
  if (!value.IsNumber()) {
    throw Napi::TypeError::New(value.Env(), what + " must be a number, got " + Describe(value));
  }
  const double d = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d < min || d > max) {
    throw Napi::RangeError::New(
        value.Env(), what + " must be a finite number from " + Describe(Napi::Number::New(value.Env(), min)) + " to " +
                         Describe(Napi::Number::New(value.Env(), max)) + ", got " + Describe(value));
  }
  return d;
}

bool BoolArg(const Napi::Value& value, const std::string& what) {
  if (!value.IsBoolean()) {
    throw Napi::TypeError::New(value.Env(), what + " must be a boolean, got " + Describe(value));
  }
  return value.As<Napi::Boolean>().Value();
}

Napi::Object ObjectArg(const Napi::Value& value, const std::string& what) {
  if (!value.IsObject() || value.IsArray() || value.IsFunction()) {
    throw Napi::TypeError::New(value.Env(), what + " must be an object, got " + Describe(value));
  }
  return value.As<Napi::Object>();
}

int ChoiceArg(const Napi::Value& value, const std::string& what, std::initializer_list<const char*> choices) {
  std::string list;
  int index = 0;
  const std::string given = value.IsString() ? value.As<Napi::String>().Utf8Value() : "";
  for (const char* choice : choices) {
    if (value.IsString() && given == choice) return index;
    list += (index++ ? ", " : "") + std::string(choice);
  }
  throw Napi::RangeError::New(value.Env(), what + " must be one of " + list + ", got " + Describe(value));
}

int ThreadsArg(const Napi::Value& value) {
  if (value.IsUndefined()) return 0;
  return static_cast<int>(IntegerArg(value, "threads", 1, 1024));
}

void CheckTypedArray(const Napi::Value& value, size_t count, const char* what, napi_typedarray_type type,
                     const char* typeName) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != type) {
    throw Napi::TypeError::New(value.Env(), std::string(what) + " must be a " + typeName);
  }
  auto array = value.As<Napi::TypedArray>();
  bool detached = false;
  napi_is_detached_arraybuffer(value.Env(), array.ArrayBuffer(), &detached);
  if (detached) {
    throw Napi::TypeError::New(value.Env(), std::string(what) + "'s buffer has been detached (transferred)");
  }
  if (array.ElementLength() != count) {
    throw Napi::RangeError::New(value.Env(), std::string(what) + " has " + std::to_string(array.ElementLength()) +
                                                 " elements, its shape needs " + std::to_string(count));
  }
}

std::vector<int64_t> ShapeFromJs(const Napi::Value& value, const char* what) {
  if (!value.IsArray()) {
    throw Napi::TypeError::New(value.Env(), std::string(what) + " shape must be an array");
  }
  auto array = value.As<Napi::Array>();
  if (array.Length() > 8) {
    throw Napi::RangeError::New(value.Env(), std::string(what) + " shape has more than 8 dimensions");
  }
  std::vector<int64_t> shape;
  double numel = 1;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    shape.push_back(
        IntegerArg(array.Get(i), std::string(what) + " shape[" + std::to_string(i) + "]", 0, int64_t{1} << 31));
    numel *= static_cast<double>(shape.back());
  }
  // a typed array holds at most 2^32 elements here: a larger shape cannot match any array
  if (numel > 4294967296.0) {
    throw Napi::RangeError::New(value.Env(), std::string(what) + " shape holds more than 2^32 elements");
  }
  return shape;
}

std::vector<float> Float32Copy(const Napi::Value& value, size_t count, const char* what) {
  return TypedArrayCopy<float>(value, count, what, napi_float32_array, "Float32Array");
}

std::vector<double> Float64Copy(const Napi::Value& value, size_t count, const char* what) {
  return TypedArrayCopy<double>(value, count, what, napi_float64_array, "Float64Array");
}

}  // namespace ptpinn
