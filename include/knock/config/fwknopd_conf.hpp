// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// fwknopd.conf (spec §11) as a set of variables: `VARIABLE value` lines, read once, each variable
/// at most once, with typed reads that name `file:line` when a value is wrong.
///
/// The library does not own the daemon's settings: each part reads its own variables (the server
/// core its packet age, a firewall backend its table or chain, a capture source its interface,
/// the program the rest) and says which it reads, so the set of known variables is the union of
/// what the composed parts read (`refuse_unknown`). fwknop variables for features knock does not
/// have are refused with that reason when they would change anything (an `ENABLE_*` switch set
/// to `N` is accepted).

#include <knock/access/options.hpp>
#include <knock/config/access_conf_parse.hpp>
#include <knock/config/error.hpp>
#include <knock/config/values.hpp>
#include <knock/core/grant.hpp>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <sys/stat.h>

namespace knock::config {

namespace detail {
/// fwknopd variables for features knock does not have.
inline constexpr std::string_view unsupported_daemon_variables[] = {"ENABLE_NFQ_CAPTURE",
                                                                    "NFQ_INTERFACE",
                                                                    "NFQ_PORT",
                                                                    "NFQ_TABLE",
                                                                    "NFQ_CHAIN",
                                                                    "NFQ_QUEUE_NUMBER",
                                                                    "GPG_EXE",
                                                                    "GPG_HOME_DIR",
                                                                    "ENABLE_EXTERNAL_CMDS",
                                                                    "EXTERNAL_CMD_OPEN",
                                                                    "EXTERNAL_CMD_CLOSE",
                                                                    "EXTERNAL_CMD_ALARM",
                                                                    "ENABLE_EXT_CMD_PREFIX",
                                                                    "EXT_CMD_PREFIX",
                                                                    "DIGEST_DB_FILE"};

/// True when `names` lists `name`, ignoring case.
template <class Names>
bool listed_in(const Names& names, std::string_view name) noexcept {
  for (std::string_view n : names)
    if (iequals(n, name)) return true;
  return false;
}
}  // namespace detail

/// fwknopd.conf's variables as written, and typed reads of them.
class fwknopd_conf {
 public:
  /// An empty configuration (every read gives its default), named `file` in errors.
  explicit fwknopd_conf(std::string file = "(defaults)") : file_{std::move(file)} {}

  /// The name errors give the file.
  const std::string& file() const noexcept { return file_; }

  /// The variable `name` (any case) as written; unset (`is_set()` false) when absent.
  const raw_value& operator[](std::string_view name) const noexcept {
    for (const auto& [n, v] : variables_)
      if (detail::iequals(n, name)) return v;
    static const raw_value unset;
    return unset;
  }
  bool has(std::string_view name) const noexcept { return (*this)[name].is_set(); }

  /// Sets `name` to `value`, read at `line` of `origin` ("command line" for a flag that overrides
  /// the file). Replaces an earlier value.
  void set(std::string_view name, std::string_view value, std::size_t line = 1,
           std::string_view origin = "command line") {
    for (auto& [n, v] : variables_)
      if (detail::iequals(n, name)) {
        v = raw_value{value, line, origin};
        return;
      }
    variables_.emplace_back(std::string{name}, raw_value{value, line, origin});
  }

  /// Every variable set, in file order (names as written).
  const std::vector<std::pair<std::string, raw_value>>& variables() const noexcept {
    return variables_;
  }

  /// `Y` or `N`; `fallback` when unset.
  result<bool, config_error> yes_no(std::string_view name, bool fallback) const {
    return detail::yes_no(file_, (*this)[name], name, fallback);
  }
  /// A whole number in 1..`max`; `fallback` when unset.
  result<std::uint32_t, config_error> number(std::string_view name, std::uint32_t fallback,
                                             std::uint32_t max = 0xFFFFFFFF) const {
    return detail::positive(file_, (*this)[name], name, fallback, max);
  }
  /// The text as written; `fallback` when unset.
  std::string text(std::string_view name, std::string_view fallback = {}) const {
    const raw_value& v = (*this)[name];
    return v.is_set() ? v.text : std::string{fallback};
  }
  /// A comma list of `tcp/N` / `udp/N`; nullopt when unset.
  result<std::optional<port_list>, config_error> ports(std::string_view name) const {
    const raw_value& v = (*this)[name];
    if (!v.is_set()) return std::optional<port_list>{};
    auto p = detail::ports(file_, v, name);
    if (!p) return fail(p.error());
    return std::optional<port_list>{*p};
  }
  /// The error `message` about variable `name`, at its line.
  config_error error(std::string_view name, std::string message) const {
    const raw_value& v = (*this)[name];
    return {v.file.empty() ? file_ : v.file, v.line, std::string{name}, std::move(message)};
  }

  /// Refuses the first variable that none of `known` lists (any case): "unknown variable".
  template <class... Lists>
  result<void, config_error> refuse_unknown(const Lists&... known) const {
    for (const auto& [name, v] : variables_) {
      bool found = false;
      ((found = found || detail::listed_in(known, name)), ...);
      if (!found) return fail(error(name, "unknown variable"));
    }
    return {};
  }

 private:
  std::string file_;
  std::vector<std::pair<std::string, raw_value>> variables_;
};

/// fwknopd.conf switches that change what a firewall backend writes: a backend honours one when
/// it lists it among its variables; with another backend, `Y` is refused when the daemon starts
/// (`firewall::any_of::make`), so the configuration still loads for `-D` and the other backends.
inline constexpr std::string_view firewall_feature_switches[] = {"ENABLE_IPT_OUTPUT",
                                                                 "ENABLE_DESTINATION_RULE"};

/// The variables the server core reads (`read_server_options`): the time window and the NAT
/// switches (whichever firewall backend runs; one that cannot NAT refuses NAT requests).
inline constexpr std::string_view server_variables[] = {
    "ENABLE_SPA_PACKET_AGING", "MAX_SPA_PACKET_AGE", "ENABLE_IPT_FORWARDING",
    "ENABLE_IPT_LOCAL_NAT",    "ENABLE_IPT_SNAT",    "SNAT_TRANSLATE_IP",
    "ENABLE_NAT_DNS"};

/// ENABLE_IPT_FORWARDING, ENABLE_IPT_LOCAL_NAT, ENABLE_IPT_SNAT (N, N, N), ENABLE_NAT_DNS (Y) and
/// SNAT_TRANSLATE_IP — an IPv4 address, checked only when ENABLE_IPT_SNAT is Y (as fwknopd).
/// With the firewall `firewalld` (`firewall`, else FIREWALL_TYPE), the switches are
/// ENABLE_FIREWD_FORWARDING, ENABLE_FIREWD_LOCAL_NAT and ENABLE_FIREWD_SNAT instead, as fwknopd
/// built for firewalld reads them.
inline result<access::nat_options, config_error> read_nat_options(const fwknopd_conf& c,
                                                                  std::string_view firewall = {}) {
  access::nat_options o;
  const bool firewalld = detail::iequals(
      firewall.empty() ? c.text("FIREWALL_TYPE") : std::string{firewall}, "firewalld");
  o.switches = firewalld ? "ENABLE_FIREWD_" : "ENABLE_IPT_";
  const std::string forwarding = std::string{o.switches} + "FORWARDING",
                    local = std::string{o.switches} + "LOCAL_NAT",
                    snat = std::string{o.switches} + "SNAT";
  for (const auto& [name, target, fallback] : {std::tuple{forwarding.c_str(), &o.forwarding, false},
                                               {local.c_str(), &o.local, false},
                                               {snat.c_str(), &o.snat, false},
                                               {"ENABLE_NAT_DNS", &o.resolve_names, true}}) {
    auto v = c.yes_no(name, fallback);
    if (!v) return fail(v.error());
    *target = *v;
  }
  if (o.snat && c.has("SNAT_TRANSLATE_IP")) {
    const std::string ip = c.text("SNAT_TRANSLATE_IP");
    const auto a = ip_address::parse(ip);
    if (!a || !a->is_v4())
      return fail(c.error("SNAT_TRANSLATE_IP",
                          "'" + printable(ip) + "' is not an IPv4 address (" + snat + " is Y)"));
    o.translate_ip = *a;
  }
  return o;
}

/// ENABLE_SPA_PACKET_AGING and MAX_SPA_PACKET_AGE, with fwknopd's defaults (Y, 120 s), and the
/// NAT switches (`read_nat_options`; `firewall` as there).
inline result<access::server_options, config_error> read_server_options(
    const fwknopd_conf& c, std::string_view firewall = {}) {
  access::server_options o;
  auto aging = c.yes_no("ENABLE_SPA_PACKET_AGING", true);
  if (!aging) return fail(aging.error());
  auto age = c.number("MAX_SPA_PACKET_AGE", 120, 100000);
  if (!age) return fail(age.error());
  o.packet_aging = *aging;
  o.max_packet_age = *age;
  auto nat = read_nat_options(c, firewall);
  if (!nat) return fail(nat.error());
  o.nat = *nat;
  return o;
}

/// Parses fwknopd.conf text; `file_name` names it in errors. Refuses malformed lines, a variable
/// set twice and fwknop features knock does not have; which variables are known is up to the
/// parts that read them (`fwknopd_conf::refuse_unknown`).
/// With `skipped`, a line without a value is left out and recorded there (fwknopd logs and skips
/// it: the variable keeps its default); without, it refuses.
inline result<fwknopd_conf, config_error> parse_fwknopd_conf(
    std::string_view text, std::string_view file_name,
    std::vector<config_error>* skipped = nullptr) {
  fwknopd_conf conf{std::string{file_name}};
  const auto error = [&](std::size_t line, std::string_view key, std::string message) {
    return fail(config_error{std::string{file_name}, line, std::string{key}, std::move(message)});
  };
  for (detail::config_line l{text}; l.next();) {
    if (!l.error.empty() && skipped != nullptr && !l.bad_name && l.value.empty()) {
      skipped->push_back(config_error{std::string{file_name}, l.number, std::string{l.name},
                                      "has no value: left out (the default applies)"});
      continue;
    }
    if (!l.error.empty()) return error(l.number, l.bad_name ? "" : l.name, std::string{l.error});
    if (detail::listed(detail::unsupported_daemon_variables, l.name)) {
      if (l.name.size() > 7 && detail::iequals(l.name.substr(0, 7), "enable_") &&
          detail::iequals(l.value, "n"))
        continue;  // switched off: the same as knock, which does not have it
      return error(l.number, l.name, "is a fwknopd feature knock does not have");
    }
    if (const raw_value& before = conf[l.name]; before.is_set())
      return error(l.number, l.name,
                   "set twice (first on line " + std::to_string(before.line) + ")");
    conf.set(l.name, l.value, l.number, {});
  }
  return conf;
}

/// Reads and parses the fwknopd.conf at `path`.
inline result<fwknopd_conf, config_error> load_fwknopd_conf(
    const std::string& path, std::vector<config_error>* skipped = nullptr) {
  // As fwknopd: the configuration is a regular file (not /dev/null, a directory or a FIFO).
  if (struct stat st{}; ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
    return fail(config_error{path, 0, "", "is not a regular file"});
  auto text = detail::read_config_file(path);
  if (!text) return fail(text.error());
  return parse_fwknopd_conf(*text, path, skipped);
}

}  // namespace knock::config
