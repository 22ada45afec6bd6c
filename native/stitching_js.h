// JS arguments of the stitching calls shared by the stitch function and the model's predict.
#pragma once

#include <napi.h>

#include <string>

#include "stitching.h"

namespace ptpinn {

// { originRow, originCol, height, width }, refusing a canvas no real scan needs (over 2^28
// pixels) before anything allocates it.
stitching::Canvas CanvasArg(const Napi::Value& value, const std::string& what);

}  // namespace ptpinn
