// A promise-returning AsyncWorker that runs LibTorch numerics off the main thread.
#pragma once

#include <napi.h>

#include <functional>
#include <vector>

namespace ptpinn {

class TorchJob : public Napi::AsyncWorker {
 public:
  using Compute = std::function<void()>;
  using Resolve = std::function<Napi::Value(Napi::Env)>;

  // keepAlive: the JS values whose memory `compute` reads without copying; they stay referenced
  // until the job settles so the garbage collector cannot free them under the worker.
  TorchJob(Napi::Env env, int threads, std::vector<Napi::Value> keepAlive, Compute compute,
           Resolve resolve);

  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& error) override;

 private:
  Napi::Promise::Deferred deferred_;
  int threads_;
  std::vector<Napi::Reference<Napi::Value>> keepAlive_;
  Compute compute_;
  Resolve resolve_;
};

// Queues the job and returns its promise.
Napi::Promise RunTorchJob(Napi::Env env, int threads, std::vector<Napi::Value> keepAlive,
                          TorchJob::Compute compute, TorchJob::Resolve resolve);

}  // namespace ptpinn
