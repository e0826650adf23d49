// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::firewall::nftables`: grants as set elements with kernel-side timeouts, through
/// libnftables (link `-lnftables`; CMake target `Nftables::Nftables`). No process is spawned, and
/// a crashed daemon cannot leave a port open past its grant. Models `knock::firewall_policy`.
///
/// knock owns one table (`inet knock` by default), which `open` (re)creates atomically:
///
///     table inet knock {
///       set allowed_v4 { type ipv4_addr . inet_proto . inet_service; flags timeout; }
///       set allowed_v6 { type ipv6_addr . inet_proto . inet_service; flags timeout; }
///       set protected  { type inet_proto . inet_service; elements = { tcp . 22 } }
///       chain input {
///         type filter hook input priority -10; policy accept;
///         ct state established,related accept
///         ip saddr . meta l4proto . th dport @allowed_v4 accept
///         ip6 saddr . meta l4proto . th dport @allowed_v6 accept
///         meta l4proto . th dport @protected drop
///       }
///     }
///
/// A grant is `add element inet knock allowed_v4 { 10.0.0.5 . tcp . 22 timeout 30s }`; the
/// kernel removes it when the timeout runs out. Connections already established outlive their
/// grant. The table stays when the object (or the daemon) goes away: protected ports stay closed
/// while knock is down (fail closed); `flush()` removes it.
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
/// The object talks to the network namespace it was opened in (libnftables binds its netlink
/// socket then), whatever thread calls it later.

#include <knock/core/error.hpp>
#include <knock/core/net.hpp>
#include <knock/firewall/concept.hpp>

#include <nftables/libnftables.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace knock::firewall {

/// What `nftables::open` sets up.
struct nftables_options {
  std::string table = "knock";             ///< in family `inet`: letters, digits, `_`, at most 63
  std::vector<port_spec> protected_ports;  ///< dropped unless granted (the union of OPEN_PORTS)
  int priority = -10;                      ///< of the input hook: before the default filter (0)
  bool keep_grants = false;                ///< reuse the table's sets (grants survive a restart)
  unsigned check_every = 5;  ///< `expire` calls between checks that the table is intact; 0: never
};

/// One element of the allowed sets, as the kernel reports it.
struct nftables_grant {
  ip_address source;
  port_spec port;
  std::uint32_t timeout = 0;    ///< seconds granted
  std::uint32_t remaining = 0;  ///< seconds left
  friend bool operator==(const nftables_grant&, const nftables_grant&) = default;
};

/// `"10.0.0.5 tcp/22 timeout 30s expires 29s"`: a `--fw-list` line.
inline std::string to_string(const nftables_grant& g) {
  return to_string(g.source) + " " + to_string(g.port) + " timeout " + std::to_string(g.timeout) +
         "s expires " + std::to_string(g.remaining) + "s";
}

namespace detail {

/// True for a name that is safe to splice into nft's grammar.
constexpr bool is_nft_identifier(std::string_view s) noexcept {
  if (s.empty() || s.size() > 63 || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
      return false;
  return true;
}

/// The script that makes the table, in one transaction: protection never has a gap.
inline std::string nft_table_script(const nftables_options& o) {
  const std::string t = "inet " + o.table;
  std::string elements;
  for (const port_spec& p : o.protected_ports)
    elements += (elements.empty() ? "" : ", ") + std::string{to_string(p.protocol)} + " . " +
                std::to_string(p.port);
  std::string s = "add table " + t + "\n";
  if (!o.keep_grants) s += "delete table " + t + "\nadd table " + t + "\n";
  s += "add set " + t +
       " allowed_v4 { type ipv4_addr . inet_proto . inet_service; flags timeout; }\n";
  s += "add set " + t +
       " allowed_v6 { type ipv6_addr . inet_proto . inet_service; flags timeout; }\n";
  s += "add set " + t + " protected { type inet_proto . inet_service; }\n";
  s += "flush set " + t + " protected\n";
  if (!elements.empty()) s += "add element " + t + " protected { " + elements + " }\n";
  s += "add chain " + t + " input { type filter hook input priority " + std::to_string(o.priority) +
       "; policy accept; }\n";
  s += "flush chain " + t + " input\n";
  s += "add rule " + t + " input ct state established,related accept\n";
  s += "add rule " + t + " input ip saddr . meta l4proto . th dport @allowed_v4 accept\n";
  s += "add rule " + t + " input ip6 saddr . meta l4proto . th dport @allowed_v6 accept\n";
  s += "add rule " + t + " input meta l4proto . th dport @protected drop\n";
  return s;
}

/// True when `nft list chain <table> input` output still has the rules that protect the ports.
inline bool nft_chain_intact(std::string_view listing) noexcept {
  return listing.find("@allowed_v4 accept") != std::string_view::npos &&
         listing.find("@allowed_v6 accept") != std::string_view::npos &&
         listing.find("@protected drop") != std::string_view::npos;
}

/// libnftables' error text on one line: its distinct `Error: …` lines joined with "; " (the echoed
/// command and the `^^^` marker lines dropped); the whole text, newlines joined, if it has none.
inline std::string nft_one_line(std::string_view text) {
  std::string errors, all;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.remove_suffix(1);
    if (line.empty()) continue;
    if (line.starts_with("Error") && errors.find(line) == std::string::npos)  // once each
      errors += (errors.empty() ? "" : "; ") + std::string{line};
    all += (all.empty() ? "" : "; ") + std::string{line};
  }
  return errors.empty() ? all : errors;
}

/// The commands for one grant: add, delete, add again in one transaction, so an element already
/// there gets the new timeout (a plain `add` would keep the old one).
inline std::string nft_grant_script(std::string_view table, const grant& g) {
  const ip_address source = g.source.mapped_v4().value_or(g.source);
  const std::string set =
      "inet " + std::string{table} + (source.is_v4() ? " allowed_v4 { " : " allowed_v6 { ");
  std::string keys, timed;
  for (auto p = g.ports.begin(); p != g.ports.end(); ++p) {
    if (std::find(g.ports.begin(), p, *p) != p) continue;  // deleting one twice would fail
    const std::string key = to_string(source) + " . " + std::string{to_string(p->protocol)} +
                            " . " + std::to_string(p->port);
    keys += (keys.empty() ? "" : ", ") + key;
    timed += (timed.empty() ? "" : ", ") + key + " timeout " + std::to_string(g.timeout) + "s";
  }
  return "add element " + set + timed + " }\ndelete element " + set + keys + " }\nadd element " +
         set + timed + " }\n";
}

/// The elements in `nft -n list set` output (numeric protocols and times): `10.0.0.5 . 6 . 22
/// timeout 30s expires 29s`, comma-separated between `elements = {` and `}`.
inline std::vector<nftables_grant> parse_nft_elements(std::string_view text) {
  std::vector<nftables_grant> out;
  const auto number = [](std::string_view s) {
    std::uint64_t v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') break;
      v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return v;
  };
  const auto after = [](std::string_view s, std::string_view word) {
    const std::size_t at = s.find(word);
    return at == std::string_view::npos ? std::string_view{} : s.substr(at + word.size());
  };
  for (std::size_t at; (at = text.find("elements = {")) != std::string_view::npos;) {
    text.remove_prefix(at + 12);
    std::string_view block = text.substr(0, text.find('}'));
    text.remove_prefix(block.size());
    while (!block.empty()) {
      const std::size_t comma = block.find(',');
      std::string_view item = block.substr(0, comma);
      block.remove_prefix(comma == std::string_view::npos ? block.size() : comma + 1);
      while (!item.empty() && (item.front() == ' ' || item.front() == '\t' || item.front() == '\n'))
        item.remove_prefix(1);
      const std::size_t dot1 = item.find(" . "), dot2 = item.find(" . ", dot1 + 3);
      if (dot1 == std::string_view::npos || dot2 == std::string_view::npos) continue;
      const auto address = ip_address::parse(item.substr(0, dot1));
      const auto proto = number(item.substr(dot1 + 3));
      if (!address || (proto != 6 && proto != 17)) continue;
      nftables_grant g;
      g.source = *address;
      g.port = {static_cast<ip_protocol>(proto),
                static_cast<std::uint16_t>(number(item.substr(dot2 + 3)))};
      g.timeout = static_cast<std::uint32_t>(number(after(item, " timeout ")));
      g.remaining = static_cast<std::uint32_t>(number(after(item, " expires ")));
      out.push_back(g);
    }
  }
  return out;
}

}  // namespace detail

/// Grants as elements of nftables sets with kernel-side timeouts. Models knock::firewall_policy.
/// Default-constructed, it is closed: every call fails.
class nftables {
 public:
  using role = knock::role::firewall;

  nftables() = default;

  /// Creates knock's table — or, with `keep_grants`, reuses it — in one transaction. On failure
  /// `*why` (if given) holds libnftables' message.
  static result<nftables> open(nftables_options options, std::string* why = nullptr);
  /// `open` with the default table name.
  static result<nftables> open(std::span<const port_spec> protected_ports,
                               std::string* why = nullptr);
  /// Talks to `table` without changing it: for `--fw-list` / `--fw-flush` next to a running
  /// daemon.
  static result<nftables> attach(std::string table = "knock", std::string* why = nullptr);

  /// Adds one element per port of `g`, timing out after `g.timeout` seconds (an element already
  /// there starts over with the new timeout). `errc::firewall_failed` for a grant without a
  /// timeout (it would never expire) or when the kernel refuses; see `last_error()`.
  result<void> open(const grant& g);
  /// The kernel expires elements itself; every `check_every` calls this checks that the table is
  /// still intact, and repairs it if not (an error if that fails; see `last_error()`).
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

  /// libnftables' message for the last failure.
  const std::string& last_error() const noexcept { return error_; }
  const std::string& table() const noexcept { return table_; }

 private:
  struct context_free {
    void operator()(nft_ctx* c) const noexcept { nft_ctx_free(c); }
  };
  static result<nftables> make(std::string table, std::string* why);
  bool intact() {
    return run("list chain inet " + table_ + " input") && detail::nft_chain_intact(output_);
  }
  result<void> run(const std::string& commands, unsigned output_flags = 0);

  std::unique_ptr<nft_ctx, context_free> ctx_;
  std::string table_, output_, error_ = "not opened";
  std::optional<nftables_options> setup_;  // what `open` made: what `repair` remakes
  std::size_t repairs_ = 0, calls_ = 0;
};

static_assert(firewall_policy<nftables>);

// ---- bodies

inline result<nftables> nftables::make(std::string table, std::string* why) {
  nftables fw;
  fw.table_ = std::move(table);
  if (!detail::is_nft_identifier(fw.table_))
    fw.error_ = "invalid nftables table name '" + fw.table_ + "'";
  else if (fw.ctx_.reset(nft_ctx_new(NFT_CTX_DEFAULT)); !fw.ctx_)
    fw.error_ = "nft_ctx_new failed";
  else if (nft_ctx_buffer_output(fw.ctx_.get()) != 0 || nft_ctx_buffer_error(fw.ctx_.get()) != 0)
    fw.error_ = "cannot buffer libnftables output";
  else
    fw.error_.clear();
  if (fw.error_.empty()) return fw;
  if (why) *why = fw.error_;
  return fail(errc::firewall_failed);
}

inline result<nftables> nftables::open(nftables_options options, std::string* why) {
  auto fw = make(options.table, why);
  if (!fw) return fw;
  if (auto ok = fw->run(detail::nft_table_script(options)); !ok) {
    if (why) *why = fw->error_;
    return fail(ok.error());
  }
  options.keep_grants = true;  // a repair keeps what is granted
  fw->setup_ = std::move(options);
  return fw;
}

inline result<nftables> nftables::open(std::span<const port_spec> protected_ports,
                                       std::string* why) {
  nftables_options o;
  o.protected_ports.assign(protected_ports.begin(), protected_ports.end());
  return open(std::move(o), why);
}

inline result<nftables> nftables::attach(std::string table, std::string* why) {
  return make(std::move(table), why);
}

inline result<void> nftables::run(const std::string& commands, unsigned output_flags) {
  if (!ctx_) {
    error_ = "not opened";
    return fail(errc::firewall_failed);
  }
  nft_ctx_output_set_flags(ctx_.get(), output_flags);
  const int rc = nft_run_cmd_from_buffer(ctx_.get(), commands.c_str());
  // Reading a buffer also empties it for the next command.
  output_ = nft_ctx_get_output_buffer(ctx_.get());
  std::string errors = nft_ctx_get_error_buffer(ctx_.get());
  if (rc == 0) return {};
  errors = detail::nft_one_line(errors);
  error_ = errors.empty() ? "libnftables failed (" + std::to_string(rc) + ")" : std::move(errors);
  return fail(errc::firewall_failed);
}

inline result<void> nftables::open(const grant& g) try {
  if (g.ports.empty()) return {};
  if (g.timeout == 0) {
    error_ = "grant without a timeout: refused, it would never expire";
    return fail(errc::firewall_failed);
  }
  const std::string script = detail::nft_grant_script(table_, g);
  if (auto ok = run(script); ok || !setup_) return ok;
  // The table may be gone or damaged (its protection with it): remake it, then try once more.
  const std::string first = error_;
  if (intact()) return (void)(error_ = first), fail(errc::firewall_failed);
  if (auto fixed = repair(); !fixed) {
    error_ = first + "; remaking table inet " + table_ + " failed too: " + error_;
    return fixed;
  }
  if (auto ok = run(script); !ok) {
    error_ = first + "; after remaking table inet " + table_ + ": " + error_;
    return ok;
  }
  return {};
} catch (...) {  // std::bad_alloc: fail closed, never throw into the server
  error_ = "out of memory";
  return fail(errc::firewall_failed);
}

inline result<void> nftables::repair() try {
  if (!setup_) {
    error_ = ctx_ ? "attached, not opened: nothing to repair from" : "not opened";
    return fail(errc::firewall_failed);
  }
  if (auto ok = run(detail::nft_table_script(*setup_)); !ok) return ok;
  ++repairs_;
  return {};
} catch (...) {
  error_ = "out of memory";
  return fail(errc::firewall_failed);
}

inline result<void> nftables::expire(epoch_seconds) try {
  if (!setup_ || setup_->check_every == 0 || ++calls_ % setup_->check_every != 0) return {};
  if (intact()) return {};
  if (auto fixed = repair(); !fixed) {
    error_ = "table inet " + table_ + " is missing or damaged, and remaking it failed: " + error_;
    return fixed;
  }
  return {};
} catch (...) {
  error_ = "out of memory";
  return fail(errc::firewall_failed);
}

inline result<std::vector<nftables_grant>> nftables::grants() try {
  std::vector<nftables_grant> all;
  for (const char* set : {" allowed_v4", " allowed_v6"}) {
    if (auto ok = run("list set inet " + table_ + set, NFT_CTX_OUTPUT_NUMERIC_ALL); !ok)
      return fail(ok.error());
    for (auto& g : detail::parse_nft_elements(output_)) all.push_back(g);
  }
  return all;
} catch (...) {
  error_ = "out of memory";
  return fail(errc::firewall_failed);
}

inline result<std::vector<std::string>> nftables::list() try {
  auto all = grants();
  if (!all) return fail(all.error());
  std::vector<std::string> lines;
  for (const auto& g : *all) lines.push_back(to_string(g));
  return lines;
} catch (...) {
  error_ = "out of memory";
  return fail(errc::firewall_failed);
}

inline result<void> nftables::flush() try {
  // `add` first, so flushing a table that is not there succeeds (idempotent).
  return run("add table inet " + table_ + "\ndelete table inet " + table_ + "\n");
} catch (...) {
  error_ = "out of memory";
  return fail(errc::firewall_failed);
}

}  // namespace knock::firewall
