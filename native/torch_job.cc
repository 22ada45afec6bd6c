#include "torch_job.h"

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

namespace ptpinn {

TorchJob::TorchJob(Napi::Env env, int threads, std::vector<Napi::Value> keepAlive,
                   Compute compute, Resolve resolve)
    : Napi::AsyncWorker(env),
      deferred_(Napi::Promise::Deferred::New(env)),
      threads_(threads),
      compute_(std::move(compute)),
      resolve_(std::move(resolve)) {
  for (const auto& value : keepAlive) keepAlive_.push_back(Napi::Persistent(value));
}

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
  }
}

void TorchJob::OnOK() {
  Napi::Env env = Env();
  try {
    deferred_.Resolve(resolve_(env));
  } catch (const Napi::Error& e) {
    deferred_.Reject(e.Value());
  }
}

void TorchJob::OnError(const Napi::Error& error) { deferred_.Reject(error.Value()); }

Napi::Promise RunTorchJob(Napi::Env env, int threads, std::vector<Napi::Value> keepAlive,
                          TorchJob::Compute compute, TorchJob::Resolve resolve) {
  auto* job = new TorchJob(env, threads, std::move(keepAlive), std::move(compute),
                           std::move(resolve));
  Napi::Promise promise = job->Promise();
  job->Queue();  // AsyncWorker deletes itself after OnOK/OnError.
  return promise;
}

}  // namespace ptpinn
