// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// The Firewall policy family: turns a grant into access, and takes it away again.
///
// clang-format off
/// | requirement                             | meaning                                                   | caller      |
/// |-----------------------------------------|-----------------------------------------------------------|-------------|
/// | `using role = knock::role::firewall`    | declares the family                                       | concepts    |
/// | `f.open(grant)`                         | `result<void>`: access until `grant.expires`, then closed | server      |
/// | `f.expire(now)`                         | `result<void>`: closes what expired at `now` (a no-op for | daemon loop |
/// |                                         | backends whose kernel expires rules itself); also checks  |             |
/// |                                         | that the rules are still in place                         |             |
///
/// Optional abilities, each a named concept:
///
/// | concept                       | requirement                                   | meaning                                  | caller |
/// |-------------------------------|-----------------------------------------------|------------------------------------------|--------|
/// | `listing_firewall`            | `f.list()` → `result<std::vector<std::string>>` | the open grants, one line each (`--fw-list`) | daemon |
/// | `flushing_firewall`           | `f.flush()` → `result<void>`                  | removes every rule knock made (`--fw-flush`) | daemon |
/// | `self_repairing_firewall`     | `f.repairs()` noexcept → `std::size_t`         | how often it remade rules deleted or     | daemon log |
/// |                               |                                               | damaged under it                          |        |
/// | `stopping_firewall`           | `f.stop()` → `result<void>`                   | what to do when the daemon stops (iptables: | daemon |
/// |                               |                                               | FLUSH_IPT_AT_EXIT); without it, nothing   |        |
/// | `privileged_firewall`         | `F::needs` → `firewall::privileges`           | what it needs from the system once the   | daemon |
/// |                               |                                               | daemon has dropped root (none without it) |        |
/// | `checked_firewall`            | `F::check(conf)` → `result<void, config_error>` | refuses a bad value of its variables,  | settings |
/// |                               |                                               | opening nothing (`-D`, start-up)         |        |
/// | `nat_firewall`                | `f.open_nat(grant)` → `result<void>`          | enforces `grant.nat` (DNAT, forward,     | server |
/// |                               |                                               | SNAT) with the access, until it expires; |        |
/// |                               |                                               | `nat_unsupported` when it cannot         |        |
/// | `configurable_firewall`       | `F::name`, `F::variables`, `F::make(setup)`   | a backend the daemon can choose by name  | `any_of` |
/// |                               |                                               | (FIREWALL_TYPE) and make from fwknopd.conf |      |
/// | `batching_firewall`           | `f.open_batch(span<const grant>)` → one       | several plain grants at once (nftables:  | async  |
/// |                               | `result<void>` per grant                      | one transaction)                         |        |
/// | `instant_firewall`            | `f.instant()` → `bool`, noexcept              | its calls never wait: async may run them | async  |
/// |                               |                                               | on the queuing thread                    |        |
/// | `deferring_firewall`          | `f.submit(grant_request)` → `result<void>`    | takes the grant to apply later (another  | server |
/// |                               |                                               | thread: firewall::async); the server's   |        |
/// |                               |                                               | `settle` reports its answer              |        |
// clang-format on
///
/// Errors are `knock::error`s whose message names the backend and what failed ("nftables: table
/// inet knock: Operation not permitted"): the daemon logs them as they are.

#include <knock/core/grant.hpp>
#include <knock/core/result.hpp>
#include <knock/core/role.hpp>
#include <knock/firewall/setup.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace knock {

template <class P>
concept firewall_policy = has_role<P, role::firewall> &&
    requires(P& f, const grant& g, epoch_seconds now) {
  { f.open(g) } -> std::same_as<result<void>>;
  { f.expire(now) } -> std::same_as<result<void>>;
};

namespace firewall {

/// What a backend needs from the system once the daemon has dropped root.
struct privileges {
  bool net_admin = false;      ///< changes the kernel's firewall (Linux: CAP_NET_ADMIN)
  bool net_raw = false;        ///< opens raw sockets (iptables' programs do)
  bool runs_programs = false;  ///< runs programs (iptables, firewall-cmd) that need the above
};

/// Lists its open grants, one line each (`--fw-list`).
template <class F>
concept listing_firewall = firewall_policy<F> && requires(F& f) {
  { f.list() } -> std::same_as<result<std::vector<std::string>>>;
};

/// Removes every rule knock made (`--fw-flush`).
template <class F>
concept flushing_firewall = firewall_policy<F> && requires(F& f) {
  { f.flush() } -> std::same_as<result<void>>;
};

/// Remakes its rules when they are deleted or damaged under it, and counts how often.
template <class F>
concept self_repairing_firewall = firewall_policy<F> && requires(const F& f) {
  { f.repairs() }
  noexcept->std::same_as<std::size_t>;
};

/// Says whether its calls never wait (they start no process and touch no socket or file: the
/// `recording` backend); `firewall::async` may then run its work on the threads that queue it
/// (`async_options::inline_when_instant`), without a writer thread to wake. It may change (a
/// reload that adds command cycles): async asks before every job.
template <class F>
concept instant_firewall = firewall_policy<F> && requires(const F& f) {
  { f.instant() }
  noexcept->std::same_as<bool>;
};

/// Has something to do when the daemon stops.
template <class F>
concept stopping_firewall = firewall_policy<F> && requires(F& f) {
  { f.stop() } -> std::same_as<result<void>>;
};

/// Enforces NAT grants (`grant.nat`: fwknopd's DNAT, FORWARD and SNAT rules) until they expire,
/// as `open` does the access. A server whose firewall is not one refuses NAT requests
/// (`errc::nat_unsupported`); a set of backends answers `nat_unsupported` for a member that is not.
template <class F>
concept nat_firewall = firewall_policy<F> && requires(F& f, const grant& g) {
  { f.open_nat(g) } -> std::same_as<result<void>>;
};

/// Needs something from the system after the daemon drops root.
template <class F>
concept privileged_firewall = firewall_policy<F> && requires {
  { F::needs } -> std::convertible_to<privileges>;
};

/// Checks its variables without opening anything (any_of checks every backend of its list, so a
/// bad value is refused whichever backend runs, as fwknopd does).
template <class F>
concept checked_firewall = firewall_policy<F> && requires(const config::fwknopd_conf& c) {
  { F::check(c) } -> std::same_as<result<void, config::config_error>>;
};

/// A backend a program can choose by name and make from its configuration: `F::name` is the
/// value of FIREWALL_TYPE that selects it, `F::variables` the fwknopd.conf variables it reads
/// (so the parser knows them), `F::make(setup)` builds it.
template <class F>
concept configurable_firewall = firewall_policy<F> && requires(const setup& s) {
  { F::name } -> std::convertible_to<std::string_view>;
  requires std::ranges::range<decltype(F::variables)>;
  { F::make(s) } -> std::same_as<result<F>>;
};

/// Opens several plain grants in one call (one transaction where the backend has them: nftables);
/// one result per grant, in order. firewall::async hands it the grants that wait together.
template <class F>
concept batching_firewall = firewall_policy<F> && requires(F& f, std::span<const grant> gs) {
  { f.open_batch(gs) } -> std::same_as<std::vector<result<void>>>;
};

/// A grant the server decided, handed to a deferring firewall with what the packet's log line
/// needs once the firewall has answered (`server::settle`).
struct grant_request {
  grant granted;
  bool nat = false;          ///< open with `open_nat` (the grant has NAT to do)
  ip_address packet_source;  ///< the datagram's source (not necessarily the granted address)
  std::size_t stanza = 0;    ///< 1-based
  /// A pipelining replay store's ticket (knock::pipelining_replay_store), 0 when none: the grant
  /// is held back until the store has answered for the packet's keys, and refused unless `first`.
  std::uint32_t replay_ticket = 0;
};

/// Applies grants later, off the caller's thread (knock/firewall/async.hpp): `submit` queues the
/// request, or refuses it now (a full queue, a writer that stopped, NAT it cannot do:
/// `errc::nat_unsupported`). The server then leaves the packet's verdict pending
/// (`verdict::pending`) until the firewall's answer is given to `server::settle`.
template <class F>
concept deferring_firewall = firewall_policy<F> && requires(F& f, grant_request r) {
  { f.submit(std::move(r)) } -> std::same_as<result<void>>;
};

}  // namespace firewall
}  // namespace knock
