#include "stitching_js.h"

#include "js_boundary.h"

namespace ptpinn {

stitching::Canvas CanvasArg(const Napi::Value& value, const std::string& what) {
  const auto c = ObjectArg(value, what);
  constexpr double kFar = 1e9;
  const stitching::Canvas canvas{NumberArg(c.Get("originRow"), what + ".originRow", -kFar, kFar),
                                 NumberArg(c.Get("originCol"), what + ".originCol", -kFar, kFar),
                                 IntegerArg(c.Get("height"), what + ".height", 1, 1 << 20),
                                 IntegerArg(c.Get("width"), what + ".width", 1, 1 << 20)};
  // the canvas is (H * W, 3) floats
  if (canvas.height * canvas.width > (int64_t{1} << 28)) {
    throw Napi::RangeError::New(value.Env(), what + " of " + std::to_string(canvas.height) + " x " +
                                                 std::to_string(canvas.width) + " pixels is larger than 2^28 pixels");
  }
  return canvas;
}

}  // namespace ptpinn
