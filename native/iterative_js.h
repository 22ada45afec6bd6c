// The JS function of the iterative baseline (native/iterative.h).
#pragma once

#include <napi.h>

namespace ptpinn {

void RegisterIterative(Napi::Env env, Napi::Object exports);

}  // namespace ptpinn
