// LibTorch's jobs off the main thread: a Job (native/job.h) with its own LibTorch thread count.
#pragma once

#include "job.h"

namespace ptpinn {

// Queues `compute` with LibTorch set to `threads` on its pool thread (0: LibTorch's default) and
// returns the promise of `resolve`'s value.
Napi::Promise RunTorchJob(Napi::Env env, int threads, Job::Compute compute, Job::Resolve resolve);

}  // namespace ptpinn
