// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::firewall::ipt::commands`: the iptables / ip6tables processes knock's iptables backend
/// runs — `fork` + `execve` of an absolute path (no shell, fixed environment, a timeout:
/// `system::run`) — and the chain set-up and removal fwknopd does at start and exit. Counts the
/// processes, the cost of the backend. Errors name the command and what iptables said:
/// "`/usr/sbin/iptables -w -t filter -N FWKNOP_INPUT` exited with 4: ...".

#include <knock/core/result.hpp>
#include <knock/firewall/ipt/rules.hpp>
#include <knock/system/process.hpp>

#include <cstddef>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

namespace knock::firewall::ipt {

/// Runs iptables commands with one set of options.
class commands {
 public:
  commands() = default;
  explicit commands(options o) : options_{std::move(o)} {}

  const options& settings() const noexcept { return options_; }
  /// Processes started so far.
  std::size_t count() const noexcept { return count_; }

  /// Runs `exe` (with `-w` first when `wait_for_lock`) and `args`: its output when it exits 0,
  /// else an error (`errc::firewall_failed`) naming the command and how it ended.
  result<system::process_result> run(const std::string& exe, std::vector<std::string> args) {
    std::vector<std::string> argv{exe};
    if (options_.wait_for_lock) argv.emplace_back("-w");
    argv.insert(argv.end(), std::make_move_iterator(args.begin()),
                std::make_move_iterator(args.end()));
    ++count_;
    system::process_options po;
    po.timeout = options_.command_timeout;
    auto r = system::run(argv, po);
    if (!r) return fail(error{errc::firewall_failed, r.error().message});
    if (!r->succeeded()) return fail(error{errc::firewall_failed, system::summary(argv, *r)});
    return r;
  }

  /// Creates the chain `c` (the access chain by default) and the jump to it where missing: true
  /// when something was made, false when both were there; an error when one could not be made.
  result<bool> ensure_chain(const std::string& exe) { return ensure_chain(exe, options_.input()); }
  result<bool> ensure_chain(const std::string& exe, const chain_spec& c) {
    bool made = false;
    // `-N` fails when the chain is there (or cannot be made); `-L` tells which.
    if (run(exe, {"-t", c.table, "-N", c.chain}))
      made = true;
    else if (auto there = run(exe, {"-t", c.table, "-n", "-L", c.chain}); !there)
      return fail(there.error());
    if (run(exe, {"-t", c.table, "-C", c.from_chain, "-j", c.chain})) return made;
    auto jump = run(
        exe, {"-t", c.table, "-I", c.from_chain, std::to_string(c.jump_position), "-j", c.chain});
    if (!jump) return fail(jump.error());
    return true;
  }

  /// Removes every jump to the chain `c`, then its rules and the chain, ignoring what is not there.
  void remove_chain(const std::string& exe) { remove_chain(exe, options_.input()); }
  void remove_chain(const std::string& exe, const chain_spec& c) {
    for (int i = 0; i < 16; ++i)  // every jump, not just the first: older runs may have left more
      if (!run(exe, {"-t", c.table, "-D", c.from_chain, "-j", c.chain})) break;
    (void)run(exe, {"-t", c.table, "-F", c.chain});
    (void)run(exe, {"-t", c.table, "-X", c.chain});
  }

  /// `-L <chain> --line-numbers -n`: the listing fwknopd parses.
  result<system::process_result> listing(const std::string& exe) {
    return listing(exe, options_.input());
  }
  result<system::process_result> listing(const std::string& exe, const chain_spec& c) {
    return run(exe, {"-t", c.table, "-L", c.chain, "--line-numbers", "-n"});
  }

 private:
  options options_;
  std::size_t count_ = 0;
};

}  // namespace knock::firewall::ipt
