// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::firewall::tool`: the firewall program a backend runs (pfctl, ipfw, firewall-cmd) —
/// an absolute path, run with an argument vector (no shell, fixed environment, optional stdin,
/// a timeout: `system::run`) — and the FIREWALL_EXE reading they share. Counts the processes, the
/// cost of the backend. Errors name the backend, the command and what it said:
/// "pf: `/sbin/pfctl -a fwknop -f -` exited with 1: stdin:1: syntax error".

#include <knock/config/error.hpp>
#include <knock/config/fwknopd_conf.hpp>
#include <knock/core/result.hpp>
#include <knock/system/process.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace knock::firewall {

/// One firewall program, run with arguments.
class tool {
 public:
  tool() = default;
  /// `backend` prefixes every error; `exe` is an absolute path.
  tool(std::string_view backend, std::string exe, std::chrono::milliseconds timeout)
      : backend_{backend}, exe_{std::move(exe)}, timeout_{timeout} {}

  const std::string& exe() const noexcept { return exe_; }
  /// Processes started so far.
  std::size_t count() const noexcept { return count_; }

  /// Runs the program with `args` (and `input` on stdin): its output when it exits 0, else an
  /// error (`errc::firewall_failed`) naming the command and how it ended (a timeout included).
  result<system::process_result> run(std::vector<std::string> args, std::string_view input = {}) {
    if (exe_.empty()) return failed("not opened");
    args.insert(args.begin(), exe_);
    ++count_;
    system::process_options po;
    po.timeout = timeout_;
    po.input = input;
    auto r = system::run(args, po);
    if (!r) return failed(r.error().message);
    if (!r->succeeded()) return failed(system::summary(args, *r));
    return r;
  }

  /// "<backend>: <what>" as a `firewall_failed` error.
  failure<error> failed(std::string_view what) const {
    std::string m{backend_};
    m.append(": ").append(what);
    return fail(error{errc::firewall_failed, std::move(m)});
  }

 private:
  std::string_view backend_ = "firewall";
  std::string exe_;
  std::chrono::milliseconds timeout_{10'000};
  std::size_t count_ = 0;
};

/// FIREWALL_EXE when set (an absolute path to an executable file, else an error at its line);
/// `fallback` (a program name looked up in sbin/bin, or empty when not found) otherwise.
inline result<std::string, config::config_error> firewall_exe(const config::fwknopd_conf& c,
                                                              std::string_view fallback) {
  if (!c.has("FIREWALL_EXE")) return system::find_executable(fallback);
  const std::string exe = c.text("FIREWALL_EXE");
  if (exe.empty() || exe[0] != '/' || system::find_executable(exe).empty()) {
    std::string m{"'"};
    m.append(config::printable(exe)).append("' is not the path of an executable file");
    return fail(c.error("FIREWALL_EXE", std::move(m)));
  }
  return exe;
}

}  // namespace knock::firewall
