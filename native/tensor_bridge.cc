#include "tensor_bridge.h"

#include <string>

namespace ptpinn {

namespace {

Napi::Float32Array AsFloat32(const Napi::Value& value, const char* what) {
  if (!value.IsTypedArray() ||
      value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(value.Env(), std::string(what) + " must be a Float32Array");
  }
  return value.As<Napi::Float32Array>();
}

int64_t Numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

void CheckLength(const Napi::Value& value, size_t length, int64_t expected, const char* what) {
  if (static_cast<int64_t>(length) != expected) {
    throw Napi::RangeError::New(value.Env(), std::string(what) + " has " + std::to_string(length) +
                                                 " elements, its shape needs " +
                                                 std::to_string(expected));
  }
}

}  // namespace

std::vector<int64_t> ShapeFromJs(const Napi::Value& value, const char* what) {
  if (!value.IsArray()) {
    throw Napi::TypeError::New(value.Env(), std::string(what) + " shape must be an array");
  }
  auto array = value.As<Napi::Array>();
  std::vector<int64_t> shape;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value d = array.Get(i);
    if (!d.IsNumber() || d.As<Napi::Number>().Int64Value() < 0) {
      throw Napi::TypeError::New(value.Env(),
                                 std::string(what) + " shape must hold non-negative integers");
    }
    shape.push_back(d.As<Napi::Number>().Int64Value());
  }
  return shape;
}

at::Tensor FloatView(const Napi::Value& value, const std::vector<int64_t>& shape,
                     const char* what) {
  auto array = AsFloat32(value, what);
  CheckLength(value, array.ElementLength(), Numel(shape), what);
  return at::from_blob(array.Data(), shape, at::TensorOptions().dtype(at::kFloat));
}

at::Tensor Float64View(const Napi::Value& value, const std::vector<int64_t>& shape,
                       const char* what) {
  if (!value.IsTypedArray() ||
      value.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    throw Napi::TypeError::New(value.Env(), std::string(what) + " must be a Float64Array");
  }
  auto array = value.As<Napi::Float64Array>();
  CheckLength(value, array.ElementLength(), Numel(shape), what);
  return at::from_blob(array.Data(), shape, at::TensorOptions().dtype(at::kDouble));
}

at::Tensor ComplexView(const Napi::Value& value, const std::vector<int64_t>& shape,
                       const char* what) {
  auto array = AsFloat32(value, what);
  CheckLength(value, array.ElementLength(), 2 * Numel(shape), what);
  std::vector<int64_t> realShape(shape);
  realShape.push_back(2);
  return at::view_as_complex(
      at::from_blob(array.Data(), realShape, at::TensorOptions().dtype(at::kFloat)));
}

at::Tensor IndexTensor(const Napi::Value& value, const std::vector<int64_t>& shape,
                       const char* what) {
  if (!value.IsTypedArray() ||
      value.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw Napi::TypeError::New(value.Env(), std::string(what) + " must be an Int32Array");
  }
  auto array = value.As<Napi::Int32Array>();
  CheckLength(value, array.ElementLength(), Numel(shape), what);
  return at::from_blob(array.Data(), shape, at::TensorOptions().dtype(at::kInt)).to(at::kLong);
}

Napi::Float32Array Float32ArrayFromTensor(Napi::Env env, const at::Tensor& tensor) {
  at::Tensor flat = tensor.is_complex() ? at::view_as_real(tensor.contiguous()) : tensor;
  flat = flat.to(at::kFloat).contiguous();
  auto* owner = new at::Tensor(flat);
  const size_t count = static_cast<size_t>(flat.numel());
  auto buffer = Napi::ArrayBuffer::New(
      env, owner->data_ptr<float>(), count * sizeof(float),
      [](Napi::Env, void*, at::Tensor* held) { delete held; }, owner);
  return Napi::Float32Array::New(env, count, buffer, 0);
}

Napi::Array ShapeToJs(Napi::Env env, const at::Tensor& tensor) {
  auto sizes = tensor.sizes();
  auto shape = Napi::Array::New(env, sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) {
    shape.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(sizes[i])));
  }
  return shape;
}

}  // namespace ptpinn
