// SPDX-License-Identifier: MIT
#pragma once
// The registry of knock-bench: every case is one per-packet operation, registered once with Google
// Benchmark (items/s = packets/s, user counters allocs_per_packet and alloc_bytes_per_packet) and
// kept for --callgrind, which runs it N times inside knock_bench_region for instruction counts.
// A case is run once when it is added and must give its expected outcome, or nothing runs: a
// benchmark that silently measures the wrong path (a valid packet refused, a garbage packet
// accepted) is worse than none.

#include "alloc_counter.hpp"

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace knock_bench {

/// Outcome of one packet: 0 = accepted; otherwise the refusal code of the implementation
/// (knock::errc value, libfko FKO_ERROR_* value) or `replayed`.
inline constexpr int accepted = 0;
inline constexpr int replayed = 100000;

struct bench_case {
  std::string name;
  std::function<int()> once;      ///< one packet
  std::size_t callgrind_packets;  ///< default N for --callgrind
};

std::vector<bench_case>& cases();

/// Runs `f` once, checks its outcome, then registers it under `name`.
template <class F>
void add_case(const std::string& name, F f, int expected, std::size_t callgrind_packets = 2000) {
  const int got = f();
  if (got != expected) {
    std::fprintf(stderr, "knock-bench: %s gave outcome %d, expected %d; refusing to run\n",
                 name.c_str(), got, expected);
    std::exit(1);
  }
  cases().push_back({name, f, callgrind_packets});
  benchmark::RegisterBenchmark(name.c_str(), [f](benchmark::State& state) mutable {
    const alloc_totals before = allocations();
    for (auto _ : state) {
      int outcome = f();
      benchmark::DoNotOptimize(outcome);
    }
    const alloc_totals after = allocations();
    state.SetItemsProcessed(state.iterations());
    state.counters["allocs_per_packet"] = benchmark::Counter(
        static_cast<double>(after.count - before.count), benchmark::Counter::kAvgIterations);
    state.counters["alloc_bytes_per_packet"] = benchmark::Counter(
        static_cast<double>(after.bytes - before.bytes), benchmark::Counter::kAvgIterations);
  });
}

struct corpus;
void add_knock_cases(const corpus& c);
void add_primitive_cases(const corpus& c);
/// server/*, replay/lookup/* (server_cases.cpp).
void add_server_cases(const corpus& c);
/// firewall/*/grant (server_cases.cpp): registered alone, by `knock-bench --firewall`.
void add_firewall_cases();
void add_libfko_cases(const corpus& c);
/// decode/gnupg/* (gnupg_cases.cpp): registered alone, by `knock-bench --gnupg`.
void add_gnupg_cases();
/// Something that makes libfko allocate, for the allocation counter's self-check.
void libfko_alloc_probe();

}  // namespace knock_bench
