#include "torch_job.h"

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include "js_boundary.h"

namespace ptpinn {

std::string ExceptionMessage(const std::exception& e) {
  // what() of LibTorch's errors carries a C++ backtrace that means nothing to a JS user
  if (const auto* error = dynamic_cast<const c10::Error*>(&e)) return error->what_without_backtrace();
  return e.what();
}

Napi::Promise RunTorchJob(Napi::Env env, int threads, Job::Compute compute, Job::Resolve resolve) {
  return RunJob(
      env,
      [threads, compute = std::move(compute)] {
        // LibTorch's thread count is per OS thread, and libuv's pool threads start with the default
        if (threads > 0) at::set_num_threads(threads);
        compute();
      },
      std::move(resolve));
}

}  // namespace ptpinn
