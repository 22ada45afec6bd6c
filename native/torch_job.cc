#include "torch_job.h"

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

namespace ptpinn {

TorchJob::TorchJob(Napi::Env env, int threads, Compute compute, Resolve resolve)
    : Napi::AsyncWorker(env),
      deferred_(Napi::Promise::Deferred::New(env)),
      callSite_(Napi::Persistent(Napi::Error::New(env, "").Value())),
      threads_(threads),
      compute_(std::move(compute)),
      resolve_(std::move(resolve)) {}

void TorchJob::Execute() {
  // LibTorch's thread count is per OS thread, and libuv's pool threads start with the default.
  if (threads_ > 0) at::set_num_threads(threads_);
  try {
    compute_();
  } catch (const c10::Error& e) {
    // what() carries a C++ backtrace that means nothing to a JS user.
    SetError(e.what_without_backtrace());
  } catch (const std::exception& e) {
    SetError(e.what());
  } catch (...) {
    SetError("ptychopinn: an unknown native exception");
  }
}

Napi::Error TorchJob::Rejection(const std::string& message) {
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

void TorchJob::OnOK() {
  Napi::Env env = Env();
  try {
    deferred_.Resolve(resolve_(env));
  } catch (const Napi::Error& e) {
    deferred_.Reject(e.Value());
  } catch (const std::exception& e) {
    deferred_.Reject(Rejection(e.what()).Value());
  }
}

void TorchJob::OnError(const Napi::Error& error) { deferred_.Reject(Rejection(error.Message()).Value()); }

Napi::Promise RunTorchJob(Napi::Env env, int threads, TorchJob::Compute compute, TorchJob::Resolve resolve) {
  auto* job = new TorchJob(env, threads, std::move(compute), std::move(resolve));
  Napi::Promise promise = job->Promise();
  job->Queue();  // AsyncWorker deletes itself after OnOK/OnError.
  return promise;
}

}  // namespace ptpinn
