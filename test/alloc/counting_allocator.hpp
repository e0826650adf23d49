// SPDX-License-Identifier: MIT
#pragma once
// A counting allocator for the allocation tests: every global operator new/delete (plain, array,
// nothrow, aligned, sized) replaced and the C allocator (malloc, calloc, realloc, posix_memalign,
// aligned_alloc, memalign, valloc, pvalloc) interposed over glibc's, forwarding to __libc_*.
// Inside a counted region (`count_allocations`) each call on this thread adds one; the first few
// print a backtrace and call `knock_counted_allocation` (a place for a gdb breakpoint).
// It defines those functions: include it in one source file of an executable, and only one.

#include <errno.h>
#include <execinfo.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <new>

// The counting allocator.

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);
}

namespace {
struct counter {
  bool armed = false;      // inside a counted region on this thread
  bool reporting = false;  // print a backtrace for the first allocations of the region
  bool in_report = false;  // backtrace() may allocate: do not recurse
  std::size_t allocations = 0;
};
thread_local constinit counter this_thread;
}  // namespace

/// Called for every allocation in a counted region: a place for a gdb breakpoint.
extern "C" __attribute__((noinline, used)) void knock_counted_allocation(std::size_t size) {
  asm volatile("" : : "r"(size) : "memory");
}

namespace {
void note_allocation(std::size_t size) noexcept {
  counter& c = this_thread;
  if (!c.armed || c.in_report) return;
  ++c.allocations;
  knock_counted_allocation(size);
  if (c.reporting && c.allocations <= 3) {
    c.in_report = true;
    static constexpr char head[] = "\n*** heap allocation in a counted region, backtrace:\n";
    [[maybe_unused]] auto w = ::write(2, head, sizeof head - 1);
    void* frames[32];
    ::backtrace_symbols_fd(frames, ::backtrace(frames, 32), 2);
    c.in_report = false;
  }
}

void* allocate(std::size_t size, std::size_t align = 0) noexcept {
  note_allocation(size);
  if (size == 0) size = 1;
  return align <= alignof(std::max_align_t) ? __libc_malloc(size)
                                            : __libc_memalign(std::max(align, sizeof(void*)), size);
}
void* allocate_or_throw(std::size_t size, std::size_t align = 0) {
  void* p = allocate(size, align);
  if (p == nullptr) throw std::bad_alloc{};
  return p;
}
}  // namespace

extern "C" {
void* malloc(std::size_t n) {
  note_allocation(n);
  return __libc_malloc(n);
}
void* calloc(std::size_t n, std::size_t size) {
  note_allocation(n * size);
  return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t n) {
  note_allocation(n);
  return __libc_realloc(p, n);
}
void free(void* p) { __libc_free(p); }
void* memalign(std::size_t align, std::size_t n) {
  note_allocation(n);
  return __libc_memalign(align, n);
}
void* aligned_alloc(std::size_t align, std::size_t n) { return memalign(align, n); }
void* valloc(std::size_t n) {
  return memalign(static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)), n);
}
void* pvalloc(std::size_t n) {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return memalign(page, (n + page - 1) / page * page);
}
int posix_memalign(void** out, std::size_t align, std::size_t n) {
  if (align < sizeof(void*) || (align & (align - 1)) != 0) return EINVAL;
  void* p = memalign(align, n);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}
}

void* operator new(std::size_t n) { return allocate_or_throw(n); }
void* operator new[](std::size_t n) { return allocate_or_throw(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return allocate(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return allocate(n); }
void* operator new(std::size_t n, std::align_val_t a) {
  return allocate_or_throw(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return allocate_or_throw(n, static_cast<std::size_t>(a));
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return allocate(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return allocate(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { __libc_free(p); }
void operator delete[](void* p) noexcept { __libc_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { __libc_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { __libc_free(p); }
void operator delete(void* p, std::size_t) noexcept { __libc_free(p); }
void operator delete[](void* p, std::size_t) noexcept { __libc_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { __libc_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { __libc_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { __libc_free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { __libc_free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { __libc_free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  __libc_free(p);
}

namespace {

/// Heap allocations `f()` makes on this thread. Nothing inside `f` may report through gtest (gtest
/// allocates); record outcomes in storage made beforehand and check them afterwards.
template <class F>
std::size_t count_allocations(F&& f, bool report = true) {
  this_thread = counter{};
  this_thread.reporting = report;
  this_thread.armed = true;
  f();
  this_thread.armed = false;
  return this_thread.allocations;
}

/// Keeps the optimiser from removing an allocation the test makes on purpose (new/delete pairs may
/// be elided since C++14).
template <class T>
T* keep(T* p) {
  asm volatile("" : : "g"(p) : "memory");
  return p;
}

}  // namespace
