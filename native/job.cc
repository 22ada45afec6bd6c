#include "job.h"

#include "js_boundary.h"

namespace ptpinn {

Job::Job(Napi::Env env, Compute compute, Resolve resolve)
    : Napi::AsyncWorker(env),
      deferred_(Napi::Promise::Deferred::New(env)),
      callSite_(Napi::Persistent(Napi::Error::New(env, "").Value())),
      compute_(std::move(compute)),
      resolve_(std::move(resolve)) {}

void Job::Execute() {
  try {
    compute_();
  } catch (const std::exception& e) {
    SetError(ExceptionMessage(e));
  } catch (...) {
    SetError("ptychopinn: an unknown native exception");
  }
}

Napi::Error Job::Rejection(const std::string& message) {
  Napi::Object error = callSite_.Value();
  error.Set("message", message);
  // the stack was rendered with an empty message: put this one in its first line
  const Napi::Value stack = error.Get("stack");
  if (stack.IsString()) {
    std::string text = stack.As<Napi::String>().Utf8Value();
    const size_t eol = text.find('\n');
    text = "Error: " + message + (eol == std::string::npos ? "" : text.substr(eol));
    error.Set("stack", text);
  }
  return Napi::Error(Env(), error);
}

void Job::OnOK() {
  Napi::Env env = Env();
  try {
    deferred_.Resolve(resolve_(env));
  } catch (const Napi::Error& e) {
    deferred_.Reject(e.Value());
  } catch (const std::exception& e) {
    deferred_.Reject(Rejection(ExceptionMessage(e)).Value());
  }
}

void Job::OnError(const Napi::Error& error) { deferred_.Reject(Rejection(error.Message()).Value()); }

Napi::Promise RunJob(Napi::Env env, Job::Compute compute, Job::Resolve resolve) {
  auto* job = new Job(env, std::move(compute), std::move(resolve));
  Napi::Promise promise = job->Promise();
  job->Queue();  // AsyncWorker deletes itself after OnOK/OnError.
  return promise;
}

}  // namespace ptpinn
