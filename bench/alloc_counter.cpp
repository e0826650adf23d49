// SPDX-License-Identifier: MIT
// A counting malloc family for knock-bench. Every entry point forwards to glibc's own allocator
// (__libc_malloc & co., exported by glibc for exactly this purpose), so memory may be freed by
// either side; only the counting is added. The counters are per thread and plain (no atomics),
// so counting costs a few instructions per allocation.
#include "alloc_counter.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void __libc_free(void*);
void* __libc_memalign(std::size_t, std::size_t);
void* __libc_valloc(std::size_t);
void* __libc_pvalloc(std::size_t);
}

namespace {
thread_local knock_bench::alloc_totals totals;
inline void note(std::size_t bytes) noexcept {
  ++totals.count;
  totals.bytes += bytes;
}
}  // namespace

extern "C" {
void* malloc(std::size_t n) noexcept {
  note(n);
  return __libc_malloc(n);
}
void* calloc(std::size_t n, std::size_t size) noexcept {
  note(n * size);
  return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t n) noexcept {
  note(n);
  return __libc_realloc(p, n);
}
void free(void* p) noexcept { __libc_free(p); }
void* memalign(std::size_t align, std::size_t n) noexcept {
  note(n);
  return __libc_memalign(align, n);
}
void* aligned_alloc(std::size_t align, std::size_t n) noexcept {
  note(n);
  return __libc_memalign(align, n);
}
int posix_memalign(void** out, std::size_t align, std::size_t n) noexcept {
  if (align % sizeof(void*) != 0 || (align & (align - 1)) != 0) return EINVAL;
  note(n);
  void* p = __libc_memalign(align, n);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}
void* valloc(std::size_t n) noexcept {
  note(n);
  return __libc_valloc(n);
}
void* pvalloc(std::size_t n) noexcept {
  note(n);
  return __libc_pvalloc(n);
}
}

namespace knock_bench {

alloc_totals allocations() noexcept { return totals; }

namespace {
[[noreturn]] void counter_broken(const char* what) {
  std::fprintf(stderr, "knock-bench: the allocation counter does not see %s; refusing to run\n",
               what);
  std::abort();
}
// Through volatile pointers, so the compiler cannot elide the allocations being checked.
void* (*volatile malloc_fn)(std::size_t) = std::malloc;
char* (*volatile strdup_fn)(const char*) = ::strdup;
}  // namespace

void check_alloc_counter(void (*probe)()) {
  auto before = allocations().count;
  void* p = malloc_fn(24);
  if (allocations().count != before + 1) counter_broken("malloc");
  std::free(p);

  before = allocations().count;
  int* volatile q = new int{1};
  if (allocations().count != before + 1) counter_broken("operator new");
  delete q;

  before = allocations().count;
  char* s = strdup_fn("glibc-internal allocation");
  if (allocations().count != before + 1) counter_broken("strdup (a malloc inside glibc)");
  std::free(s);

  if (probe != nullptr) {
    before = allocations().count;
    probe();
    if (allocations().count == before) counter_broken("the allocations of libfko");
  }
}

}  // namespace knock_bench
