// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::firewall::command`: access.conf's `CMD_CYCLE_OPEN` / `CMD_CYCLE_CLOSE` /
/// `CMD_CYCLE_TIMER` (spec §12): a grant runs the open command, and `expire(now)` runs the close
/// command once the grant's time is up. Models `knock::firewall_policy`.
///
/// Each command is split on blanks into an argv **first**, and the variables are substituted
/// inside each argument afterwards, so a value can never add, remove or split an argument; it is
/// run with `fork` + `execve` (no shell, fixed environment, a timeout: `system::run`). The program
/// is looked up once, at `open`. Variables, matched as fwknopd matches them (`$IPX` is `$IP`
/// then `X`):
///
/// | variable            | value |
/// |---------------------|-------|
/// | `$IP`, `$SRC`       | the address granted |
/// | `$PKT_SRC`          | the packet's source address |
/// | `$DST`              | the packet's destination address |
/// | `$PORT`, `$PROTO`   | the port, and its protocol **as a number** (6, 17), as fwknopd |
/// | `$TIMEOUT`          | the grant's end, epoch seconds (fwknopd: SPA time + timeout) |
/// | `$CLIENT_TIMEOUT`   | the grant's length in seconds |
///
/// Differences from fwknopd, on purpose: the commands run once **per requested port** (fwknopd
/// only for the first); a `$` that starts no variable is an error at `open` (fwknopd silently drops
/// the `$`); the close runs at the grant's end, i.e. after `grant.timeout` seconds — the server
/// should set that from `CMD_CYCLE_TIMER` (client timeout, else the timer, as fwknopd). Pending
/// closes live in memory: a crashed daemon does not run them.

#include <knock/core/error.hpp>
#include <knock/core/net.hpp>
#include <knock/firewall/concept.hpp>
#include <knock/system/process.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace knock::firewall {

/// One access.conf stanza's command cycle.
struct command_cycle {
  std::string open;            ///< `CMD_CYCLE_OPEN`
  std::string close = "NONE";  ///< `CMD_CYCLE_CLOSE`; `NONE` or empty: nothing to run
  std::size_t stanza = 0;      ///< the 1-based stanza it belongs to; 0: every stanza
};

/// What `command::open` runs.
struct command_options {
  std::vector<command_cycle> cycles;  ///< the first whose stanza matches the grant's is used
  /// Where a program named without a '/' is looked for (once, at `open`).
  std::string search_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  std::chrono::milliseconds timeout{10'000};  ///< per command, then SIGKILL
};

/// The values substituted into a command, for one port of one grant.
struct command_values {
  ip_address source, packet_source, destination;
  port_spec port;
  epoch_seconds expires = 0;
  std::uint32_t timeout = 0;
};

namespace detail {

/// fwknopd's variables, in the order it tries them.
inline constexpr std::array<std::string_view, 8> command_variables{
    "IP", "SRC", "PKT_SRC", "DST", "PORT", "PROTO", "TIMEOUT", "CLIENT_TIMEOUT"};

/// `arg` with each `$VARIABLE` replaced by its value; nothing if a `$` starts no variable.
inline std::optional<std::string> substitute(std::string_view arg, const command_values& v) {
  std::string out;
  for (std::size_t i = 0; i < arg.size(); ++i) {
    if (arg[i] != '$') {
      out += arg[i];
      continue;
    }
    const std::string_view rest = arg.substr(i + 1);
    const auto var = std::find_if(command_variables.begin(), command_variables.end(),
                                  [&](std::string_view name) { return rest.starts_with(name); });
    if (var == command_variables.end()) return std::nullopt;
    switch (var - command_variables.begin()) {
      case 0:
      case 1: out += to_string(v.source); break;
      case 2: out += to_string(v.packet_source); break;
      case 3: out += to_string(v.destination); break;
      case 4: out += std::to_string(v.port.port); break;
      case 5: out += std::to_string(static_cast<int>(v.port.protocol)); break;
      case 6: out += std::to_string(v.expires); break;
      default: out += std::to_string(v.timeout); break;
    }
    i += var->size();
  }
  return out;
}

/// `text` split on blanks (spaces and tabs), as fwknopd splits commands: no quoting, no shell.
inline std::vector<std::string> split_command(std::string_view text) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == ' ' || text[i] == '\t') {
      ++i;
      continue;
    }
    const std::size_t end = text.find_first_of(" \t", i);
    out.emplace_back(text.substr(i, end - i));
    i = end == std::string_view::npos ? text.size() : end;
  }
  return out;
}

/// The argv of `words` for `v`: one argument per word, whatever the values hold.
inline std::vector<std::string> command_argv(const std::vector<std::string>& words,
                                             const command_values& v) {
  std::vector<std::string> argv;
  for (const auto& w : words) argv.push_back(substitute(w, v).value_or(w));  // checked at open
  return argv;
}

}  // namespace detail

/// Runs fwknopd-style open/close commands. Models knock::firewall_policy.
class command {
 public:
  using role = knock::role::firewall;

  command() = default;

  /// Splits and checks every command and finds its program. An error (`errc::config_invalid`)
  /// names the command and the problem ("CMD_CYCLE_OPEN: program 'x' not found or not
  /// executable").
  static result<command> open(command_options options);

  /// Runs the open command of `g`'s stanza once per port and schedules the close.
  /// `$PKT_SRC` is `g.source` and `$DST` the unspecified address: use the overload below to give
  /// them. `errc::firewall_failed`, naming the first command that failed and how
  /// ("CMD_CYCLE_OPEN: `/bin/false 10.0.0.5` exited with 1"); the close of every port whose open
  /// command ran is scheduled anyway.
  result<void> open(const grant& g) { return open(g, g.source, ip_address{}); }
  result<void> open(const grant& g, const ip_address& packet_source, const ip_address& destination);
  /// Runs the close commands due at `now` (and nothing else: no process between them); an error
  /// names the first that failed.
  result<void> expire(epoch_seconds now);
  /// Runs every pending close command now.
  result<void> flush() { return expire(never_expires); }
  /// The pending close commands, soonest first: `"1700000035 /usr/bin/foo 10.0.0.5 22"`.
  std::vector<std::string> list() const;
  std::size_t pending() const noexcept { return pending_.size(); }

 private:
  struct cycle {
    std::vector<std::string> open, close;  // words; the program resolved to an absolute path
    std::size_t stanza = 0;
  };
  struct scheduled {
    epoch_seconds at = 0;
    std::vector<std::string> argv;
  };
  // Runs `argv`; on failure keeps the first failure of a batch in `first`.
  void run(std::string_view what, const std::vector<std::string>& argv,
           std::optional<error>& first) const;

  std::vector<cycle> cycles_;
  std::vector<scheduled> pending_;  // sorted by `at`
  std::chrono::milliseconds timeout_{10'000};
};

static_assert(firewall_policy<command>);

// ---- bodies

inline result<command> command::open(command_options options) {
  command c;
  c.timeout_ = options.timeout;
  const auto parse = [&](std::string_view what, const std::string& text,
                         std::vector<std::string>& words) {
    words = detail::split_command(text);
    if (words.empty()) return std::string{what} + ": empty command";
    for (const auto& w : words)
      if (!detail::substitute(w, {}))
        return std::string{what} + ": unknown variable in '" + w +
               "' (known: $IP $SRC $PKT_SRC $DST $PORT $PROTO $TIMEOUT $CLIENT_TIMEOUT)";
    if (words[0].find('$') != std::string::npos)
      return std::string{what} + ": the program name '" + words[0] + "' cannot hold a variable";
    std::string exe = system::find_executable(words[0], options.search_path);
    if (exe.empty())
      return std::string{what} + ": program '" + words[0] + "' not found or not executable";
    words[0] = std::move(exe);
    return std::string{};
  };
  for (const auto& in : options.cycles) {
    cycle out;
    out.stanza = in.stanza;
    std::string problem = parse("CMD_CYCLE_OPEN", in.open, out.open);
    if (problem.empty() && !in.close.empty() && in.close != "NONE")
      problem = parse("CMD_CYCLE_CLOSE", in.close, out.close);
    if (!problem.empty()) return fail(error{errc::config_invalid, std::move(problem)});
    c.cycles_.push_back(std::move(out));
  }
  return c;
}

inline void command::run(std::string_view what, const std::vector<std::string>& argv,
                         std::optional<error>& first) const {
  system::process_options po;
  po.timeout = timeout_;
  auto r = system::run(argv, po);
  if (r && r->succeeded()) return;
  if (!first)
    first = error{errc::firewall_failed,
                  std::string{what} + ": " + (r ? system::summary(argv, *r) : r.error().message)};
}

inline result<void> command::open(const grant& g, const ip_address& packet_source,
                                  const ip_address& destination) try {
  const auto c = std::find_if(cycles_.begin(), cycles_.end(), [&](const cycle& x) {
    return x.stanza == 0 || x.stanza == g.stanza;
  });
  if (c == cycles_.end())
    return fail(error{errc::firewall_failed,
                      cycles_.empty()
                          ? std::string{"CMD_CYCLE: not opened"}
                          : "CMD_CYCLE: no command cycle for stanza " + std::to_string(g.stanza)});
  command_values v;
  v.source = g.source.mapped_v4().value_or(g.source);
  v.packet_source = packet_source.mapped_v4().value_or(packet_source);
  v.destination = destination.mapped_v4().value_or(destination);
  v.expires = g.expires;
  v.timeout = g.timeout;
  std::optional<error> failed;
  for (const port_spec& p : g.ports) {
    v.port = p;
    run("CMD_CYCLE_OPEN", detail::command_argv(c->open, v), failed);
    if (c->close.empty()) continue;
    scheduled s{g.expires, detail::command_argv(c->close, v)};
    pending_.insert(
        std::upper_bound(pending_.begin(), pending_.end(), s.at,
                         [](epoch_seconds at, const scheduled& x) { return at < x.at; }),
        std::move(s));
  }
  if (!failed) return {};
  return fail(*std::move(failed));
} catch (...) {  // std::bad_alloc: fail closed, never throw into the server
  return fail(error{errc::firewall_failed, "CMD_CYCLE: out of memory"});
}

inline result<void> command::expire(epoch_seconds now) try {
  std::optional<error> failed;
  // Soonest first; each runs once, failed or not (fwknopd does the same).
  while (!pending_.empty() && pending_.front().at <= now) {
    const scheduled s = std::move(pending_.front());
    pending_.erase(pending_.begin());
    run("CMD_CYCLE_CLOSE", s.argv, failed);
  }
  if (!failed) return {};
  return fail(*std::move(failed));
} catch (...) {
  return fail(error{errc::firewall_failed, "CMD_CYCLE: out of memory"});
}

inline std::vector<std::string> command::list() const {
  std::vector<std::string> lines;
  for (const auto& s : pending_)
    lines.push_back(std::to_string(s.at) + " " + system::join_argv(s.argv));
  return lines;
}

}  // namespace knock::firewall
