// The JS functions of the quality metrics (native/metrics.h).
#pragma once

#include <napi.h>

namespace ptpinn {

void RegisterMetrics(Napi::Env env, Napi::Object exports);

}  // namespace ptpinn
