// Where JS calls enter C++: a guard that turns every exception into a JS error, and argument
// readers that check type, range and finiteness before anything uses a value.
//
// TypeScript validates what users pass; these checks are for the raw binding (and for bugs in the
// TypeScript layer): whatever arrives, the process must get a thrown Error, never a terminate.
#pragma once

#include <c10/util/Exception.h>
#include <napi.h>

#include <cstdint>
#include <initializer_list>
#include <string>

namespace ptpinn {

// Runs `fn`, converting any C++ exception into a Napi::Error (a c10::Error without its C++
// backtrace). An exception other than Napi::Error that leaves a callback on the JS thread would
// call std::terminate.
template <typename Fn>
auto Guarded(Napi::Env env, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
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

}  // namespace ptpinn
