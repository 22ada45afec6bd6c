#include "allocator.h"

#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>
#include <sys/mman.h>
#include <torch/version.h>

#include <cstdlib>
#include <cstring>
#include <string>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace ptpinn {
namespace {

// LibTorch 2.3 made Allocator::allocate non-const and added copy_data.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
#define PTPINN_ALLOCATOR_COPY_DATA 1
#endif

constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kAlignment = 64;  // LibTorch's own CPU alignment

void FreeTensorMemory(void* data) { std::free(data); }

thread_local bool tHugePages = false;

// LibTorch's CPU allocator with one change: inside a HugePages scope, a tensor of 2 MiB or more
// is placed on 2 MiB boundaries and marked MADV_HUGEPAGE, so the kernel backs it with transparent
// huge pages where the system allows them ("madvise" mode, the common default). PyTorch 2.1+ does
// the same for every tensor under THP_MEM_ALLOC_ENABLE=1.
class HugePageAllocator final : public c10::Allocator {
 public:
#ifdef PTPINN_ALLOCATOR_COPY_DATA
  c10::DataPtr allocate(size_t bytes) override { return Allocate(bytes); }
  void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }
#else
  c10::DataPtr allocate(size_t bytes) const override { return Allocate(bytes); }
#endif
  c10::DeleterFnPtr raw_deleter() const override { return &FreeTensorMemory; }

 private:
  static c10::DataPtr Allocate(size_t bytes) {
    const c10::Device cpu(c10::DeviceType::CPU);
    if (bytes == 0) return {nullptr, nullptr, &FreeTensorMemory, cpu};
    const bool huge = tHugePages && bytes >= kHugePage;
    void* data = nullptr;
    if (posix_memalign(&data, huge ? kHugePage : kAlignment, bytes) != 0 || data == nullptr) {
      TORCH_CHECK(false, "out of memory: cannot allocate ", bytes, " bytes for a tensor");
    }
    // advice only: a kernel without THP, or one that refuses, leaves ordinary pages. The last
    // huge page is shared with whatever the heap puts after the tensor.
    if (huge) madvise(data, (bytes + kHugePage - 1) & ~(kHugePage - 1), MADV_HUGEPAGE);
    return {data, data, &FreeTensorMemory, cpu};
  }
};

}  // namespace

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
  static HugePageAllocator allocator;
  c10::SetCPUAllocator(&allocator, /*priority=*/1);
  return "glibc, tensors kept in the heap (mmap threshold " + std::to_string(mmapMiB) +
         " MiB, trim threshold 1 GiB), inference's tensors of 2 MiB or more on transparent huge pages";
#else
  return "the C library's defaults";
#endif
}

HugePages::HugePages() : previous_(tHugePages) { tHugePages = true; }
HugePages::~HugePages() { tHugePages = previous_; }

void ReleaseFreeMemory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace ptpinn
