#include "tensor_bridge.h"

#include <string>

#include "js_boundary.h"

namespace ptpinn {

namespace {

int64_t Numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// A copy of the typed array's memory as a tensor of `dtype` and `shape` (numbers per element:
// `lanes`). A copy, not a view: a caller may transfer or detach the buffer while a worker reads it
// (a view then reads freed memory), and a Napi::Reference does not prevent that.
template <typename T>
at::Tensor View(const Napi::Value& value, std::vector<int64_t> shape, const char* what, napi_typedarray_type type,
                const char* typeName, at::ScalarType dtype, int64_t lanes = 1, bool copy = true) {
  CheckTypedArray(value, static_cast<size_t>(lanes * Numel(shape)), what, type, typeName);
  auto array = value.As<Napi::TypedArrayOf<T>>();
  if (lanes > 1) shape.push_back(lanes);
  const at::Tensor view = at::from_blob(array.Data(), shape, at::TensorOptions().dtype(dtype));
  return copy ? view.clone() : view;
}

}  // namespace

at::Tensor FloatView(const Napi::Value& value, const std::vector<int64_t>& shape, const char* what) {
  return View<float>(value, shape, what, napi_float32_array, "Float32Array", at::kFloat);
}

at::Tensor RowsOf(const Napi::Value& value, const std::vector<int64_t>& shape, const at::Tensor& rows,
                  const char* what) {
  return View<float>(value, shape, what, napi_float32_array, "Float32Array", at::kFloat, 1, false)
      .index_select(0, rows);
}

at::Tensor Float64View(const Napi::Value& value, const std::vector<int64_t>& shape, const char* what) {
  return View<double>(value, shape, what, napi_float64_array, "Float64Array", at::kDouble);
}

at::Tensor ComplexView(const Napi::Value& value, const std::vector<int64_t>& shape, const char* what) {
  return at::view_as_complex(View<float>(value, shape, what, napi_float32_array, "Float32Array", at::kFloat, 2));
}

at::Tensor IndexTensor(const Napi::Value& value, const std::vector<int64_t>& shape, const char* what) {
  // .to(kLong) is the copy
  return View<int32_t>(value, shape, what, napi_int32_array, "Int32Array", at::kInt, 1, false).to(at::kLong);
}

Napi::Float32Array Float32ArrayFromTensor(Napi::Env env, const at::Tensor& tensor) {
  at::Tensor flat = tensor.is_complex() ? at::view_as_real(tensor.contiguous()) : tensor;
  flat = flat.to(at::kFloat).contiguous();
  auto* owner = new at::Tensor(flat);
  const size_t count = static_cast<size_t>(flat.numel());
  auto buffer = Napi::ArrayBuffer::New(
      env, owner->data_ptr<float>(), count * sizeof(float), [](Napi::Env, void*, at::Tensor* held) { delete held; },
      owner);
  return Napi::Float32Array::New(env, count, buffer, 0);
}

void RequireFinite(Napi::Env env, const at::Tensor& t, const char* what) {
  const at::Tensor values = t.is_complex() ? at::view_as_real(t) : t;
  if (values.numel() > 0 && !at::isfinite(values).all().item<bool>()) {
    throw Napi::RangeError::New(env, std::string(what) + " must be finite");
  }
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
