#include "allocator.h"

#include <cstdlib>
#include <cstring>
#include <string>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace ptpinn {

// glibc's defaults suit small objects, not a network's activations: a tensor above the dynamic
// mmap threshold is mapped fresh and faulted in 4 KiB at a time, and freeing the top of the heap
// trims it, so every batch pays for its memory again. 1087 patterns at N = 64 took 1.9 M minor
// faults and 14 of 25 s in the kernel; with these settings 75 k faults and 9.6 s, peak RSS
// unchanged (440 MB): the memory kept is what one batch needs, reused by the next. The settings
// are process-wide: a program that embeds the addon keeps up to 1 GiB of freed heap for reuse.
std::string ConfigureAllocator() {
#if defined(__GLIBC__)
  const char* choice = std::getenv("PTYCHOPINN_MALLOC");
  if (choice && std::strcmp(choice, "system") == 0) return "glibc defaults (PTYCHOPINN_MALLOC=system)";
  // Setting any of these also turns off glibc's dynamic threshold, which would otherwise move
  // them back as sizes change. Some glibc builds cap the mmap threshold at 32 MiB (HEAP_MAX/2):
  // then tensors above that are still mapped, the rest are kept.
  const int mmapMiB = mallopt(M_MMAP_THRESHOLD, 256 << 20) == 1  ? 256
                      : mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1 ? 32
                                                                 : 0;
  const bool trim = mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1;
  mallopt(M_TOP_PAD, 64 << 20);
  if (mmapMiB == 0 || !trim) return "glibc defaults (mallopt refused the settings)";
  return "glibc, tensors kept in the heap (mmap threshold " + std::to_string(mmapMiB) + " MiB, trim threshold 1 GiB)";
#else
  return "the C library's defaults";
#endif
}

void ReleaseFreeMemory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace ptpinn
