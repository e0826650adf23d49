// SPDX-License-Identifier: MIT
// knock-bench: knock's per-packet decode against libfko's, plus the primitives of knock's path.
//
//   knock-bench [Google Benchmark flags]        e.g. --benchmark_repetitions=5
//                                                    --benchmark_report_aggregates_only=true
//   knock-bench --list                          the case names
//   knock-bench --firewall [Google Benchmark flags]
//       only firewall/{nftables,iptables}/grant (root; each in a network namespace of its own), in
//       a process that holds none of the other cases' tables (iptables forks per grant)
//   knock-bench --gnupg [Google Benchmark flags]
//       only decode/gnupg/* (GnuPG packets, knock beside libfko): keys made at start-up with gpg
//   knock-bench --access-file F [--fwknopd-conf C] [--json] [Google Benchmark flags]
//       only config/* and libfko/config/*: the decode/verify path of that configuration, stanza by
//       stanza (valid, bad_hmac, garbage, replay, miss), then a table with a row per stanza (its
//       file:line, cipher/MAC, knock and libfko medians, ratio, allocations) and VmHWM; --json
//       prints that as one JSON document instead (the benchmark lines go to stderr). Also:
//       --allow-no-hmac, --gpg-home-dir DIR (as knock-server's), --pool N (fresh packets sealed
//       per stanza, default 4096), --clock-skew S (packets stamped S s before the server's clock).
//       Exit status 2: the configuration does not load (file:line on stderr); 1: a case did not
//       give its outcome (a valid packet refused).
//   knock-bench --callgrind=<case> [--packets=N]
//       runs <case> N times inside knock_bench_region() (after 3 warm-up packets), for
//       valgrind --tool=callgrind --collect-atstart=no --toggle-collect=knock_bench_region
//       which then counts exactly N packets. Prints N and the allocations per packet.
// Method and results: docs/PERFORMANCE.md.
#include "alloc_counter.hpp"
#include "cases.hpp"
#include "config_cases.hpp"
#include "corpus.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

namespace knock_bench {

std::vector<bench_case>& cases() {
  static std::vector<bench_case> all;
  return all;
}

}  // namespace knock_bench

/// The only code callgrind collects in --callgrind mode (see --toggle-collect).
extern "C" __attribute__((noinline)) int knock_bench_region(const knock_bench::bench_case& c,
                                                            std::size_t n) {
  int sink = 0;
  for (std::size_t i = 0; i < n; ++i) sink |= c.once();
  return sink;
}

namespace {

using namespace knock_bench;

std::string cpu_flag(const char* flag) {
  std::ifstream in{"/proc/cpuinfo"};
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("flags"))
      return (" " + line + " ").find(std::string{" "} + flag + " ") != std::string::npos ? "yes"
                                                                                         : "no";
  return "unknown";
}

std::string cpu_model() {
  std::ifstream in{"/proc/cpuinfo"};
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("model name")) return line.substr(line.find(':') + 2);
  return "unknown";
}

int run_callgrind(const std::string& name, long packets) {
  for (const bench_case& c : cases()) {
    if (c.name != name) continue;
    const std::size_t n = packets > 0 ? static_cast<std::size_t>(packets) : c.callgrind_packets;
    for (int i = 0; i < 3; ++i) (void)c.once();  // thread_local state, lazy PLT binding
    const alloc_totals before = allocations();
    const int sink = knock_bench_region(c, n);
    const alloc_totals after = allocations();
    std::printf(
        "case %s\npackets %zu\noutcome_bits %d\nallocs_per_packet %.2f\n"
        "alloc_bytes_per_packet %.1f\n",
        name.c_str(), n, sink, static_cast<double>(after.count - before.count) / n,
        static_cast<double>(after.bytes - before.bytes) / n);
    return 0;
  }
  std::fprintf(stderr, "knock-bench: no case %s (see --list)\n", name.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string callgrind_case;
  long packets = 0;
  bool list = false, firewall_only = false, gnupg_only = false;
  config_options config;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    // --name VALUE or --name=VALUE
    const auto value = [&](std::string_view name, std::string& out) {
      if (a == name && i + 1 < argc) {
        out = argv[++i];
        return true;
      }
      if (a.starts_with(name) && a.size() > name.size() && a[name.size()] == '=') {
        out = a.substr(name.size() + 1);
        return true;
      }
      return false;
    };
    std::string number;
    if (value("--access-file", config.access_file) ||
        value("--fwknopd-conf", config.fwknopd_conf) ||
        value("--gpg-home-dir", config.gpg_home_dir))
      continue;
    if (value("--clock-skew", number)) {
      config.clock_skew = std::strtoll(number.c_str(), nullptr, 10);
      continue;
    }
    if (value("--pool", number)) {
      config.pool =
          static_cast<std::size_t>(std::max(1LL, std::strtoll(number.c_str(), nullptr, 10)));
      continue;
    }
    if (a == "--json") {
      config.json = true;
    } else if (a == "--allow-no-hmac") {
      config.allow_no_hmac = true;
    } else if (a.starts_with("--callgrind="))
      callgrind_case = a.substr(12);
    else if (a.starts_with("--packets="))
      packets = std::strtol(argv[i] + 10, nullptr, 10);
    else if (a == "--firewall")
      firewall_only = true;
    else if (a == "--gnupg")
      gnupg_only = true;
    else if (a == "--list")
      list = true;
    else {
      if (a.starts_with("--benchmark_format=")) config.format = a.substr(19);
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  if (config.access_file.empty() && (!config.fwknopd_conf.empty() || config.json)) {
    std::fprintf(stderr, "knock-bench: --fwknopd-conf and --json go with --access-file\n");
    return 2;
  }

#if KNOCK_BENCH_LIBFKO
  check_alloc_counter(libfko_alloc_probe);
#else
  check_alloc_counter();
#endif

  if (!config.access_file.empty()) {
    if (const int status = add_config_cases(config); status != 0) return status;
  } else if (firewall_only) {
    add_firewall_cases();
  } else if (gnupg_only) {
    add_gnupg_cases();
  } else {
    static const corpus packets_in_use = load_corpus();  // the cases refer to it: it outlives them
    add_knock_cases(packets_in_use);
#if KNOCK_BENCH_LIBFKO
    add_libfko_cases(packets_in_use);
#endif
    add_primitive_cases(packets_in_use);
    add_server_cases(packets_in_use);
  }

  if (list) {
    for (const bench_case& c : cases()) std::printf("%s\n", c.name.c_str());
    return 0;
  }
  if (!callgrind_case.empty()) return run_callgrind(callgrind_case, packets);

  benchmark::AddCustomContext("cpu_model", cpu_model());
  benchmark::AddCustomContext("cpu_aes", cpu_flag("aes"));
  benchmark::AddCustomContext("cpu_sha_ni", cpu_flag("sha_ni"));
  benchmark::AddCustomContext("nproc", std::to_string(std::thread::hardware_concurrency()));
  benchmark::AddCustomContext("libfko", KNOCK_BENCH_LIBFKO ? "yes" : "not built");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (!config.access_file.empty()) {
    const int status = run_config_cases(config);
    benchmark::Shutdown();
    return status;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
