// TypedArray <-> torch::Tensor: the one place where JS memory meets LibTorch. Inputs are copied
// (a caller may detach or transfer a buffer while a worker reads it); outputs are not.
#pragma once

#include <ATen/ATen.h>
#include <napi.h>

#include <vector>

#include "js_boundary.h"

namespace ptpinn {

// A copy of a Float32Array as a float32 tensor of `shape`.
at::Tensor FloatView(const Napi::Value& value, const std::vector<int64_t>& shape, const char* what);

// Rows `rows` (int64) of a Float32Array of `shape`, copied: what one call needs of a large array,
// without copying the rest.
at::Tensor RowsOf(const Napi::Value& value, const std::vector<int64_t>& shape, const at::Tensor& rows,
                  const char* what);

// The same for a Float64Array (scan positions keep their float64 precision).
at::Tensor Float64View(const Napi::Value& value, const std::vector<int64_t>& shape, const char* what);

// A copy of an interleaved (re, im) Float32Array as a complex64 tensor of `shape`.
at::Tensor ComplexView(const Napi::Value& value, const std::vector<int64_t>& shape, const char* what);

// A Float32Array over the tensor's memory (complex tensors as interleaved re, im). The tensor,
// made contiguous, is owned by the ArrayBuffer's finalizer: no copy when already contiguous.
Napi::Float32Array Float32ArrayFromTensor(Napi::Env env, const at::Tensor& tensor);

// The tensor's shape as a JS array (complex tensors without the trailing 2).
Napi::Array ShapeToJs(Napi::Env env, const at::Tensor& tensor);

// A RangeError "<what> must be finite" unless every element (real and imaginary parts) is.
void RequireFinite(Napi::Env env, const at::Tensor& t, const char* what);

}  // namespace ptpinn

namespace ptpinn {

// An Int32Array of indices as an int64 tensor of `shape` (copied: LibTorch indexes with int64).
at::Tensor IndexTensor(const Napi::Value& value, const std::vector<int64_t>& shape, const char* what);

}  // namespace ptpinn
