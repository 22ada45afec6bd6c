// How glibc's malloc serves LibTorch's tensors in this process.
#pragma once

#include <string>

namespace ptpinn {

// Keeps freed tensor memory in the process instead of returning it to the kernel after every
// batch. Returns what was done, for `info`. PTYCHOPINN_MALLOC=system leaves glibc's defaults.
std::string ConfigureAllocator();

// Returns the freed memory of every thread's arena to the kernel. Called after each predict call:
// its batches reuse one heap, but the next call may run on another pool thread with an arena of
// its own, and each arena would keep a call's working set (10,000 patterns: 481 MB peak against
// 379 MB for 1,087). A call is a chunk of many batches, so the faults this costs are few.
void ReleaseFreeMemory();

}  // namespace ptpinn
