// The JS-held model: a PtychoPinn network with train, predict and parameter access.
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>

#include "js_boundary.h"
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
  void Dispose(const Napi::CallbackInfo& info);
  void RequireLive(Napi::Env env, const char* what) const;
  Napi::Value GetParameters(const Napi::CallbackInfo& info);
  Napi::Value SetParameters(const Napi::CallbackInfo& info);
  // A method behind Guarded (js_boundary.h): no exception leaves it but a Napi::Error.
  template <Napi::Value (ModelWrap::*M)(const Napi::CallbackInfo&)>
  Napi::Value Guard(const Napi::CallbackInfo& info) {
    return Guarded(info.Env(), [&] { return (this->*M)(info); });
  }
  Napi::Value ParameterCount(const Napi::CallbackInfo& info);

  // Claims the model for one call; the returned token frees it when the call's job is destroyed.
  // Training and setParameters change the weights and need the model alone; predict and
  // getParameters only read them and may overlap each other.
  enum class Access { kRead, kWrite };
  std::shared_ptr<void> Claim(Napi::Env env, Access access, const char* what);

  struct Users {
    std::atomic<int> readers{0};
    std::atomic<bool> writer{false};
  };

  PtychoPinn net_{nullptr};
  std::shared_ptr<Users> users_ = std::make_shared<Users>();
  std::shared_ptr<std::atomic<bool>> cancel_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace ptpinn
