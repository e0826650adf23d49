// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::firewall::nftables`: grants as set elements with kernel-side timeouts, through
/// libnftables (link `-lnftables`; CMake target `Nftables::Nftables`). No process is spawned, and
/// a crashed daemon cannot leave a port open past its grant. FIREWALL_TYPE `nftables`; reads
/// `KNOCK_NFT_TABLE`. Models `knock::firewall::configurable_firewall`, lists, flushes and repairs
/// itself.
///
/// knock owns one table (`inet knock` by default; the script is in knock/firewall/nft/script.hpp),
/// which `open` (re)creates atomically. A grant is `add element inet knock allowed_v4 { 10.0.0.5 .
/// tcp . 22 timeout 30s }`; the kernel removes it when the timeout runs out. Connections already
/// established outlive their grant. The table stays when the object (or the daemon) goes away:
/// protected ports stay closed while knock is down (fail closed); `flush()` removes it.
///
/// Someone else may delete or damage the table while knock runs (`nft flush ruleset`, a firewall
/// reload, `--fw-flush`): the protected ports are then open to everyone. An object made by `open`
/// repairs it — re-runs the set-up transaction, keeping what grants are left — when a grant fails
/// (and then retries the grant once), and when `expire`, every `check_every` calls, finds the
/// input chain missing or without its drop rule. `repairs()` counts them, for the log.
///
/// Caveat: nftables runs every base chain of a hook, and an `accept` here does not stop another
/// table's chain from dropping the packet later. Other tables must leave the protected ports to
/// knock (or accept them), as with fwknopd's `FWKNOP_INPUT` jump placed first.
///
/// Errors name the backend and the table: "nftables: table inet knock: Error: Could not process
/// rule: Operation not permitted".

#include <knock/config/error.hpp>
#include <knock/firewall/concept.hpp>
#include <knock/firewall/nft/script.hpp>
#include <knock/firewall/nft/session.hpp>
#include <knock/firewall/setup.hpp>

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace knock::firewall {

/// What `nftables::open` sets up (knock/firewall/nft/script.hpp).
using nftables_options = nft::options;
/// One element of the allowed sets, as the kernel reports it; `to_string` gives a `--fw-list` line.
using nftables_grant = nft::element;

/// Grants as elements of nftables sets with kernel-side timeouts. Default-constructed, it is
/// closed: every call fails.
class nftables {
 public:
  using role = knock::role::firewall;
  /// FIREWALL_TYPE's value that chooses it.
  static constexpr std::string_view name = "nftables";
  /// The fwknopd.conf variables `make` reads.
  static constexpr std::string_view variables[] = {"KNOCK_NFT_TABLE"};
  /// After the daemon drops root: netlink messages to the kernel's firewall.
  static constexpr privileges needs{.net_admin = true};

  nftables() = default;

  /// What fwknopd.conf says: `KNOCK_NFT_TABLE` (default `knock`) as `table`; a bad name is an
  /// error at its file:line. Opens nothing.
  static result<nftables_options, config::config_error> settings(const config::fwknopd_conf& c);
  /// `settings(c)`, for its error only.
  static result<void, config::config_error> check(const config::fwknopd_conf& c) {
    if (auto o = settings(c); !o) return fail(o.error());
    return {};
  }
  /// `settings(s.conf)`, then: installing needs `s.protected_ports` and keeps the grants of a
  /// table already there (a restart does not cut anyone off); attaching changes nothing.
  static result<nftables> make(const setup& s);
  /// Creates knock's table — or, with `keep_grants`, reuses it — in one transaction.
  static result<nftables> open(nftables_options options);
  /// `open` with the default table name.
  static result<nftables> open(std::span<const port_spec> protected_ports);
  /// Talks to `table` without changing it: for `--fw-list` / `--fw-flush` next to a running
  /// daemon.
  static result<nftables> attach(std::string table = "knock");

  /// Adds one element per port of `g`, timing out after `g.timeout` seconds (an element already
  /// there starts over with the new timeout). `errc::firewall_failed` for a grant without a
  /// timeout (it would never expire) or when the kernel refuses.
  result<void> open(const grant& g);
  /// Several plain grants in one libnftables transaction; when that fails (a grant without a
  /// timeout, the table deleted under the daemon), each on its own (`open`), so that each gets
  /// its own answer and the table is repaired.
  std::vector<result<void>> open_batch(std::span<const grant> gs);
  /// A NAT grant (knock/firewall/nft/nat.hpp): its DNAT, forward (or, for `--nat-local`, access)
  /// and SNAT / masquerade elements, all with `g.timeout`, in one transaction. IPv4 only, as
  /// fwknopd; `errc::nat_unsupported` when the table was set up without NAT.
  result<void> open_nat(const grant& g);
  /// The kernel expires elements itself; every `check_every` calls this checks that the table is
  /// still intact, and repairs it if not (an error if that fails).
  result<void> expire(epoch_seconds);
  /// Re-runs the set-up transaction of `open(options)`, keeping the grants that are still there.
  /// Fails for an object made by `attach` or default-constructed.
  result<void> repair();
  /// How many times `open(grant)` or `expire` found the table missing or damaged and remade it.
  std::size_t repairs() const noexcept { return repairs_; }
  /// The active grants with their remaining time, IPv4 first.
  result<std::vector<nftables_grant>> grants();
  /// `grants()` as `--fw-list` lines.
  result<std::vector<std::string>> list();
  /// Deletes knock's table: its grants and the protection of the ports (`--fw-flush`).
  result<void> flush();

  const std::string& table() const noexcept { return table_; }

 private:
  static result<nftables> connect(std::string table);
  // "nftables: table inet <t>: <what>" (no table: default-constructed).
  failure<error> failed(std::string_view what) const {
    const std::string where = table_.empty() ? "" : "table inet " + table_ + ": ";
    return fail(error{errc::firewall_failed, "nftables: " + where + std::string{what}});
  }
  bool intact() {
    return session_.run("list chain inet " + table_ + " input") &&
           nft::chain_intact(session_.output());
  }
  result<void> run(const std::string& commands, unsigned output_flags = 0) {
    auto ok = session_.run(commands, output_flags);
    if (!ok) return failed(ok.error().message);
    return ok;
  }

  nft::session session_;
  std::string table_;
  std::optional<nftables_options> setup_;  // what `open` made: what `repair` remakes
  std::size_t repairs_ = 0, calls_ = 0;
};

static_assert(configurable_firewall<nftables> && checked_firewall<nftables>);
static_assert(listing_firewall<nftables> && flushing_firewall<nftables>);
static_assert(self_repairing_firewall<nftables> && privileged_firewall<nftables>);
static_assert(nat_firewall<nftables> && batching_firewall<nftables>);

// ---- bodies

inline result<nftables_options, config::config_error> nftables::settings(
    const config::fwknopd_conf& c) {
  nftables_options o;
  o.table = c.text("KNOCK_NFT_TABLE", "knock");
  if (!nft::is_identifier(o.table))
    return fail(c.error("KNOCK_NFT_TABLE", "'" + config::printable(o.table) +
                                               "' is not a table name nft takes (letters, "
                                               "digits and '_', at most 63)"));
  for (const char* name : {"ENABLE_IPT_FORWARDING", "ENABLE_IPT_LOCAL_NAT"}) {
    auto on = c.yes_no(name, false);
    if (!on) return fail(on.error());
    o.nat = o.nat || *on;
  }
  return o;
}

inline result<nftables> nftables::make(const setup& s) {
  auto o = settings(s.conf);
  if (!o) return fail(error{o.error().code, config::to_string(o.error())});
  if (s.how == mode::attach) return attach(o->table);
  if (s.protected_ports.empty() && !o->nat)  // a NAT-only gateway may protect no local port
    return fail(error{errc::config_invalid,
                      "nftables needs the ports to protect: set OPEN_PORTS in the stanzas, "
                      "KNOCK_PROTECTED_PORTS in fwknopd.conf, or --protect"});
  o->protected_ports.assign(s.protected_ports.begin(), s.protected_ports.end());
  o->keep_grants = true;
  return open(*std::move(o));
}

inline result<nftables> nftables::connect(std::string table) {
  nftables fw;
  fw.table_ = std::move(table);
  if (!nft::is_identifier(fw.table_))
    return fail(error{errc::firewall_failed, "nftables: invalid table name '" +
                                                 config::printable(fw.table_) +
                                                 "' (letters, digits and '_', at most 63)"});
  auto s = nft::session::open();
  if (!s) return fw.failed(s.error().message);
  fw.session_ = *std::move(s);
  return fw;
}

inline result<nftables> nftables::open(nftables_options options) {
  auto fw = connect(options.table);
  if (!fw) return fw;
  if (auto ok = fw->run(nft::table_script(options)); !ok) return fail(ok.error());
  options.keep_grants = true;  // a repair keeps what is granted
  fw->setup_ = std::move(options);
  return fw;
}

inline result<nftables> nftables::open(std::span<const port_spec> protected_ports) {
  nftables_options o;
  o.protected_ports.assign(protected_ports.begin(), protected_ports.end());
  return open(std::move(o));
}

inline result<nftables> nftables::attach(std::string table) { return connect(std::move(table)); }

inline result<void> nftables::open(const grant& g) try {
  if (g.ports.empty()) return {};
  if (!session_.is_open()) return failed("not opened");
  if (g.timeout == 0) return failed("grant without a timeout: refused, it would never expire");
  const std::string script = nft::grant_script(table_, g);
  auto ok = session_.run(script);
  if (ok) return ok;
  if (!setup_) return failed(ok.error().message);
  // The table may be gone or damaged (its protection with it): remake it, then try once more.
  const std::string first = ok.error().message;
  if (intact()) return failed(first);
  if (auto fixed = session_.run(nft::table_script(*setup_)); !fixed)
    return failed(first + "; remaking table inet " + table_ +
                  " failed too: " + fixed.error().message);
  ++repairs_;
  if (auto again = session_.run(script); !again)
    return failed(first + "; after remaking table inet " + table_ + ": " + again.error().message);
  return {};
} catch (...) {  // std::bad_alloc: fail closed, never throw into the server
  return fail(error{errc::firewall_failed, "nftables: out of memory"});
}

inline std::vector<result<void>> nftables::open_batch(std::span<const grant> gs) {
  std::vector<result<void>> out;
  out.reserve(gs.size());
  bool together = session_.is_open();
  try {
    std::string script;
    for (const grant& g : gs) {
      if (g.ports.empty()) continue;
      if (g.timeout == 0) together = false;
      script += nft::grant_script(table_, g);
    }
    together = together && (script.empty() || session_.run(script));
  } catch (...) {  // std::bad_alloc: one by one, each failing closed on its own
    together = false;
  }
  for (const grant& g : gs) out.push_back(together ? result<void>{} : open(g));
  return out;
}

inline result<void> nftables::open_nat(const grant& g) try {
  if (!session_.is_open()) return failed("not opened");
  if (!setup_ || !setup_->nat)
    return fail(error{errc::nat_unsupported,
                      "nftables: table inet " + table_ +
                          " has no NAT (ENABLE_IPT_FORWARDING / ENABLE_IPT_LOCAL_NAT are N)"});
  const ip_address source = g.source.mapped_v4().value_or(g.source);
  if (!source.is_v4() || !g.nat.to.is_v4())
    return fail(error{errc::nat_unsupported, "nftables: NAT is IPv4 only (as in fwknopd)"});
  if (g.ports.empty()) return failed("NAT grant without a port");
  if (g.timeout == 0) return failed("grant without a timeout: refused, it would never expire");
  const auto elements = nft::nat_elements(g);
  auto ok = session_.run(nft::nat_grant_script(table_, g, elements));
  if (ok) return ok;
  const std::string first = ok.error().message;
  if (!intact()) {  // gone or damaged: remake the table (and its NAT), then try once more
    if (auto fixed = session_.run(nft::table_script(*setup_)); !fixed)
      return failed(first + "; remaking table inet " + table_ +
                    " failed too: " + fixed.error().message);
    ++repairs_;
  }
  // A map element already there for this key, maybe with another target: delete it first.
  std::vector<bool> replace(elements.size(), false);
  for (std::size_t i = 0; i < elements.size(); ++i)
    if (!elements[i].value.empty())
      replace[i] = static_cast<bool>(session_.run(
          "get element inet " + table_ + " " + elements[i].set + " { " + elements[i].key + " }"));
  if (auto again = session_.run(nft::nat_grant_script(table_, g, elements, replace)); !again)
    return failed(first + "; then: " + again.error().message);
  return {};
} catch (...) {
  return fail(error{errc::firewall_failed, "nftables: out of memory"});
}

inline result<void> nftables::repair() try {
  if (!setup_)
    return failed(session_.is_open() ? "attached, not opened: nothing to repair from"
                                     : "not opened");
  if (auto ok = run(nft::table_script(*setup_)); !ok) return ok;
  ++repairs_;
  return {};
} catch (...) {
  return fail(error{errc::firewall_failed, "nftables: out of memory"});
}

inline result<void> nftables::expire(epoch_seconds) try {
  if (!setup_ || setup_->check_every == 0 || ++calls_ % setup_->check_every != 0) return {};
  if (intact()) return {};
  if (auto fixed = session_.run(nft::table_script(*setup_)); !fixed)
    return fail(
        error{errc::firewall_failed,
              "nftables: table inet " + table_ +
                  " is missing or damaged, and remaking it failed: " + fixed.error().message});
  ++repairs_;
  return {};
} catch (...) {
  return fail(error{errc::firewall_failed, "nftables: out of memory"});
}

inline result<std::vector<nftables_grant>> nftables::grants() try {
  std::vector<nftables_grant> all;
  for (const char* set : {" allowed_v4", " allowed_v6"}) {
    if (auto ok = run("list set inet " + table_ + set, NFT_CTX_OUTPUT_NUMERIC_ALL); !ok)
      return fail(ok.error());
    for (auto& g : nft::parse_elements(session_.output())) all.push_back(g);
  }
  return all;
} catch (...) {
  return fail(error{errc::firewall_failed, "nftables: out of memory"});
}

inline result<std::vector<std::string>> nftables::list() try {
  // No table yet (no daemon has run here): no grants, as fwknopd lists empty chains.
  if (auto ok = run("list tables inet"); !ok) return fail(ok.error());
  if (session_.output().find("table inet " + table_ + "\n") == std::string::npos &&
      !session_.output().ends_with("table inet " + table_))
    return std::vector<std::string>{};
  auto all = grants();
  if (!all) return fail(all.error());
  std::vector<std::string> lines;
  for (const auto& g : *all) lines.push_back(to_string(g));
  // NAT elements, when the table has them: "dnat_v4: 10.0.0.2 . 6 . 55000 timeout 30s expires
  // 29s : 10.1.1.2 . 22".
  for (const char* set : {"dnat_v4", "dnat_all_v4", "forward_v4", "forward_all_v4", "snat_v4",
                          "masquerade_v4", "snat_all_v4", "masquerade_all_v4"}) {
    if (!session_.run("list set inet " + table_ + " " + set, NFT_CTX_OUTPUT_NUMERIC_ALL) &&
        !session_.run("list map inet " + table_ + " " + set, NFT_CTX_OUTPUT_NUMERIC_ALL))
      continue;  // a table without NAT
    for (auto& e : nft::element_texts(session_.output())) lines.push_back(set + (": " + e));
  }
  return lines;
} catch (...) {
  return fail(error{errc::firewall_failed, "nftables: out of memory"});
}

inline result<void> nftables::flush() try {
  // `add` first, so flushing a table that is not there succeeds (idempotent).
  return run("add table inet " + table_ + "\ndelete table inet " + table_ + "\n");
} catch (...) {
  return fail(error{errc::firewall_failed, "nftables: out of memory"});
}

}  // namespace knock::firewall
