// SPDX-License-Identifier: MIT
#pragma once
// CMD_CYCLE_OPEN / CMD_CYCLE_CLOSE: the stanzas that have them open access by running commands
// (knock::firewall::command) instead of through the firewall backend. `with_command_cycles` puts
// the two together as one Firewall policy, and forwards the backend's optional abilities.

#include <knock/firewall/command.hpp>
#include <knock/firewall/concept.hpp>
#include <knock/firewall/recording.hpp>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace knock_server {

/// The command backend of the stanzas that have CMD_CYCLE_OPEN, and their (1-based) numbers.
struct command_cycles {
  std::optional<knock::firewall::command> commands;  ///< none when no stanza has a cycle
  std::vector<std::size_t> stanzas;
};

/// The command cycles of `stanzas`, or why they cannot run.
template <class Stanzas>
knock::result<command_cycles> make_command_cycles(const Stanzas& stanzas) {
  knock::firewall::command_options options;
  command_cycles out;
  for (std::size_t i = 0; i < stanzas.size(); ++i) {
    if (stanzas[i].cmd_cycle_open.empty()) continue;
    knock::firewall::command_cycle c;
    c.open = stanzas[i].cmd_cycle_open;
    if (!stanzas[i].cmd_cycle_close.empty()) c.close = stanzas[i].cmd_cycle_close;
    c.stanza = i + 1;
    options.cycles.push_back(std::move(c));
    out.stanzas.push_back(i + 1);
  }
  if (out.stanzas.empty()) return out;
  auto commands = knock::firewall::command::open(std::move(options));
  if (!commands)
    return knock::fail(
        knock::error{commands.error().code, "CMD_CYCLE: " + to_string(commands.error())});
  out.commands.emplace(*std::move(commands));
  return out;
}

/// `Firewall` for most grants, the command cycles for the stanzas that have them. Models
/// knock::firewall_policy.
template <class Firewall>
class with_command_cycles {
 public:
  using role = knock::role::firewall;

  explicit with_command_cycles(Firewall backend) : backend_{std::move(backend)} {}

  knock::result<void> open(const knock::grant& g) {
    if (cycles_.commands && std::ranges::find(cycles_.stanzas, g.stanza) != cycles_.stanzas.end())
      return cycles_.commands->open(g);
    return backend_.open(g);
  }
  /// Plain grants waiting together: in one call to the backend, unless one of them belongs to a
  /// stanza with a command cycle (then each on its own, in order).
  std::vector<knock::result<void>> open_batch(
      std::span<const knock::grant> gs) requires knock::firewall::batching_firewall<Firewall> {
    const auto cycled = [&](const knock::grant& g) {
      return cycles_.commands &&
             std::ranges::find(cycles_.stanzas, g.stanza) != cycles_.stanzas.end();
    };
    if (std::ranges::none_of(gs, cycled)) return backend_.open_batch(gs);
    std::vector<knock::result<void>> out;
    out.reserve(gs.size());
    for (const knock::grant& g : gs) out.push_back(open(g));
    return out;
  }
  /// A NAT grant: the backend's NAT, or the stanza's command cycle (which replaces the firewall,
  /// as in fwknopd).
  knock::result<void> open_nat(
      const knock::grant& g) requires knock::firewall::nat_firewall<Firewall> {
    if (cycles_.commands && std::ranges::find(cycles_.stanzas, g.stanza) != cycles_.stanzas.end())
      return cycles_.commands->open(g);
    return backend_.open_nat(g);
  }
  knock::result<void> expire(knock::epoch_seconds now) {
    auto ok = backend_.expire(now);
    if (cycles_.commands)
      if (auto closed = cycles_.commands->expire(now); !closed) return closed;
    return ok;
  }

  /// Installs the cycles of (re)loaded stanzas; the old ones' pending closes run now.
  void set_cycles(command_cycles cycles) {
    if (cycles_.commands) (void)cycles_.commands->flush();
    cycles_ = std::move(cycles);
  }

  /// How often the backend remade rules deleted or damaged under it.
  std::size_t repairs() const noexcept requires knock::firewall::self_repairing_firewall<Firewall> {
    return backend_.repairs();
  }

  /// The backend's answer, while no stanza has a command cycle (a command is a process).
  bool instant() const noexcept requires knock::firewall::instant_firewall<Firewall> {
    return !cycles_.commands && backend_.instant();
  }

  Firewall& backend() noexcept { return backend_; }
  const Firewall& backend() const noexcept { return backend_; }

 private:
  Firewall backend_;
  command_cycles cycles_;
};

// knock-server's set of backends can NAT (any_of answers nat_unsupported for a member that
// cannot), and so must the wrapper: a NAT grant must not be refused on the wrapper's account.
static_assert(knock::firewall::nat_firewall<with_command_cycles<knock::firewall::recording>>);

}  // namespace knock_server
