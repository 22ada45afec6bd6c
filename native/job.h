// A promise-returning AsyncWorker that runs native numerics off the main thread (both addons;
// LibTorch's jobs go through RunTorchJob, native/torch_job.h).
#pragma once

#include <napi.h>

#include <functional>

namespace ptpinn {

class Job : public Napi::AsyncWorker {
 public:
  using Compute = std::function<void()>;
  using Resolve = std::function<Napi::Value(Napi::Env)>;

  // `compute` runs on a libuv pool thread and must not touch JS values: its inputs are copies
  // made on the JS thread (tensor_bridge, js_boundary), so nothing the caller does to its buffers
  // meanwhile can reach it. Its exceptions reject the promise (ExceptionMessage).
  Job(Napi::Env env, Compute compute, Resolve resolve);

  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& error) override;

 private:
  // The rejection's Error, created when the call was made so that it carries the caller's stack
  // (an Error created when the job settles has none).
  Napi::Error Rejection(const std::string& message);

  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference callSite_;
  Compute compute_;
  Resolve resolve_;
};

// Queues the job and returns its promise.
Napi::Promise RunJob(Napi::Env env, Job::Compute compute, Job::Resolve resolve);

}  // namespace ptpinn
