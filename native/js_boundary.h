// Where JS calls enter C++: a guard that turns every exception into a JS error, and argument
// readers that check type, range and finiteness before anything uses a value.
//
// TypeScript validates what users pass; these checks are for the raw binding (and for bugs in the
// TypeScript layer): whatever arrives, the process must get a thrown Error, never a terminate.
//
// Both addons use this file: the LibTorch one and the metrics one, which has no LibTorch.
#pragma once

#include <napi.h>

#include <cstdint>
#include <exception>
#include <initializer_list>
#include <string>
#include <vector>

namespace ptpinn {

// The message a JS user gets for a C++ exception. Each addon defines it: LibTorch's errors carry
// a C++ backtrace that means nothing in JS (native/torch_job.cc drops it).
std::string ExceptionMessage(const std::exception& e);

// Runs `fn`, converting any C++ exception into a Napi::Error. An exception other than
// Napi::Error that leaves a callback on the JS thread would call std::terminate.
template <typename Fn>
auto Guarded(Napi::Env env, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, ExceptionMessage(e));
  } catch (...) {
    throw Napi::Error::New(env, "ptychopinn: an unknown native exception");
  }
}

// A module function behind Guarded.
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value Entry(const Napi::CallbackInfo& info) {
  return Guarded(info.Env(), [&] { return F(info); });
}

// An integer in [min, max]; `what` names the argument in the message.
int64_t IntegerArg(const Napi::Value& value, const std::string& what, int64_t min, int64_t max);
// A finite number in [min, max].
double NumberArg(const Napi::Value& value, const std::string& what, double min, double max);
bool BoolArg(const Napi::Value& value, const std::string& what);
Napi::Object ObjectArg(const Napi::Value& value, const std::string& what);
// The index of the string among `choices`; anything else is an error listing them.
int ChoiceArg(const Napi::Value& value, const std::string& what, std::initializer_list<const char*> choices);
// threads: undefined (LibTorch's default) or 1 to 1024.
int ThreadsArg(const Napi::Value& value);
// A shape: an array of at most 8 integers from 0 to 2^31 holding at most 2^32 elements.
std::vector<int64_t> ShapeFromJs(const Napi::Value& value, const char* what);
// A RangeError or TypeError unless `value` is a typed array of `type`, not detached, of `count` elements.
void CheckTypedArray(const Napi::Value& value, size_t count, const char* what, napi_typedarray_type type,
                     const char* typeName);
// A copy of a Float32Array or Float64Array of exactly `count` elements (a copy: a caller may
// transfer or detach the buffer while a worker reads it).
std::vector<float> Float32Copy(const Napi::Value& value, size_t count, const char* what);
std::vector<double> Float64Copy(const Napi::Value& value, size_t count, const char* what);

}  // namespace ptpinn
