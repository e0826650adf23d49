// SPDX-License-Identifier: MIT
#pragma once
// Heap allocations made by this thread, counted by the malloc family that knock-bench defines
// (alloc_counter.cpp). glibc lets a program replace malloc: libfko's C allocations, libstdc++'s
// operator new and glibc's own strdup all land here, so one counter sees C and C++ alike.

#include <cstddef>

namespace knock_bench {

struct alloc_totals {
  std::size_t count = 0;  ///< malloc + calloc + realloc + aligned allocations
  std::size_t bytes = 0;  ///< bytes requested by them
};

/// What this thread has allocated since it started.
alloc_totals allocations() noexcept;

/// Proves that the counter sees malloc, operator new, strdup (glibc-internal) and, when `probe` is
/// given, whatever `probe` allocates (libfko); prints the failure and aborts otherwise.
void check_alloc_counter(void (*probe)() = nullptr);

}  // namespace knock_bench
