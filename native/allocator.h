// How glibc's malloc serves LibTorch's tensors in this process.
#pragma once

#include <string>

namespace ptpinn {

// Keeps freed tensor memory in the process instead of returning it to the kernel after every
// batch. Returns what was done, for `info`. PTYCHOPINN_MALLOC=system leaves glibc's defaults.
std::string ConfigureAllocator();

}  // namespace ptpinn
