// The JS-held model: a PtychoPinn network with train, predict and parameter access.
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>

#include "network.h"

namespace ptpinn {

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit ModelWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Train(const Napi::CallbackInfo& info);
  Napi::Value Predict(const Napi::CallbackInfo& info);
  void Cancel(const Napi::CallbackInfo& info);
  Napi::Value GetParameters(const Napi::CallbackInfo& info);
  void SetParameters(const Napi::CallbackInfo& info);
  Napi::Value ParameterCount(const Napi::CallbackInfo& info);

  // Marks the model busy for one job; the returned token frees it when the job is destroyed.
  std::shared_ptr<void> Claim(Napi::Env env, const char* what);

  PtychoPinn net_{nullptr};
  std::shared_ptr<std::atomic<bool>> busy_ = std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<std::atomic<bool>> cancel_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace ptpinn
