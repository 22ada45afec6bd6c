// How glibc's malloc serves LibTorch's tensors in this process.
#pragma once

#include <string>

namespace ptpinn {

// Keeps freed tensor memory in the process instead of returning it to the kernel after every
// batch. Returns what was done, for `info`. PTYCHOPINN_MALLOC=system leaves glibc's defaults.
std::string ConfigureAllocator();

// Within its lifetime, this thread's tensors of 2 MiB or more go on transparent huge pages. For
// inference: its activations are touched fresh batch after batch (the heap is trimmed after each
// call), and where a 4 KiB page fault costs microseconds, as on virtual machines, the faults took
// a quarter of a small `infer`'s reconstruction (32 patterns, fp32: 0.41-0.50 -> 0.32-0.36 s a
// call; 1087 patterns 11.8 -> 11.0 s, system time 2.2 -> 1.7 s). Not for training: its steps
// reuse one heap, so it gained nothing measurable, while whole huge pages raised its peak by
// 20-30 MB.
class HugePages {
 public:
  HugePages();
  ~HugePages();
  HugePages(const HugePages&) = delete;
  HugePages& operator=(const HugePages&) = delete;

 private:
  bool previous_;
};

// Returns the freed memory of every thread's arena to the kernel. Called after each predict call:
// its batches reuse one heap, but the next call may run on another pool thread with an arena of
// its own, and each arena would keep a call's working set (10,000 patterns: 481 MB peak against
// 379 MB for 1,087). A call is a chunk of many batches, so the faults this costs are few.
void ReleaseFreeMemory();

}  // namespace ptpinn
