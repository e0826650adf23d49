// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// fwknopd.conf (spec §11): the daemon's settings. Same line format as access.conf (`VARIABLE
/// value;`). The variables knock runs with are members of `raw_fwknopd_conf`, matched ignoring
/// case; fwknop variables for features knock does not have are refused with the reason when they
/// would change anything (an `ENABLE_*` switch set to `N` is accepted); anything else is an unknown
/// variable.

#include <knock/access/grant.hpp>
#include <knock/config/access_conf.hpp>
#include <knock/config/access_conf_parse.hpp>
#include <knock/config/error.hpp>
#include <knock/access/options.hpp>

#include <boost/hana/accessors.hpp>
#include <boost/hana/define_struct.hpp>
#include <boost/hana/first.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/second.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace knock::config {

/// fwknopd.conf as written: each member a variable (lower case).
struct raw_fwknopd_conf {
  BOOST_HANA_DEFINE_STRUCT(raw_fwknopd_conf, (raw_value, enable_spa_packet_aging),
                           (raw_value, max_spa_packet_age), (raw_value, enable_digest_persistence),
                           (raw_value, digest_file),  //
                           (raw_value, pcap_intf), (raw_value, pcap_filter),
                           (raw_value, enable_pcap_promisc), (raw_value, enable_pcap_any_direction),
                           (raw_value, max_sniff_bytes), (raw_value, pcap_dispatch_count),
                           (raw_value, pcap_loop_sleep),                               //
                           (raw_value, enable_udp_server), (raw_value, udpserv_port),  //
                           (raw_value, fwknop_run_dir), (raw_value, fwknop_conf_dir),
                           (raw_value, access_file), (raw_value, fwknop_pid_file),  //
                           (raw_value, firewall_type), (raw_value, knock_nft_table),
                           (raw_value, knock_user), (raw_value, knock_replay_capacity),
                           (raw_value, knock_protected_ports), (raw_value, flush_ipt_at_init),
                           (raw_value, flush_ipt_at_exit), (raw_value, enable_ipt_comment_check),
                           (raw_value, rules_check_threshold), (raw_value, firewall_exe),  //
                           (raw_value, syslog_identity), (raw_value, syslog_facility),
                           (raw_value, verbose), (raw_value, locale));
};

/// The daemon's settings, checked, with fwknopd's defaults (knock's own where fwknop has none).
struct daemon_config {
  server_options server;               ///< ENABLE_SPA_PACKET_AGING, MAX_SPA_PACKET_AGE
  bool digest_persistence = true;      ///< ENABLE_DIGEST_PERSISTENCE: file_store, not memory
  std::string run_dir = "/run/knock";  ///< FWKNOP_RUN_DIR
  std::string digest_file;             ///< DIGEST_FILE (default: run_dir + "/replay.log")
  std::string access_file = "/etc/fwknop/access.conf";  ///< ACCESS_FILE
  std::string pid_file;  ///< FWKNOP_PID_FILE (default: run_dir + "/knock-server.pid")
  std::vector<std::string> interfaces{"eth0"};  ///< PCAP_INTF (comma list; knock takes several)
  std::string pcap_filter = "udp port 62201";   ///< PCAP_FILTER
  bool promiscuous = false;                     ///< ENABLE_PCAP_PROMISC
  bool any_direction = false;                   ///< ENABLE_PCAP_ANY_DIRECTION
  bool udp_server = false;                      ///< ENABLE_UDP_SERVER (`-U`)
  std::uint16_t udp_port = 62201;               ///< UDPSERV_PORT
  std::string firewall_type = "nftables";       ///< FIREWALL_TYPE: nftables, iptables, none
  std::string nft_table = "knock";              ///< KNOCK_NFT_TABLE
  std::optional<port_list>
      protected_ports;  ///< KNOCK_PROTECTED_PORTS (default: union of OPEN_PORTS)
  bool flush_at_init = true, flush_at_exit = true;  ///< FLUSH_IPT_AT_INIT / _EXIT (iptables)
  std::uint32_t rules_check_threshold = 20;         ///< RULES_CHECK_THRESHOLD (iptables)
  /// KNOCK_USER: who the daemon becomes after start-up when started as root ("user" or
  /// "user:group"; "root" keeps root). Empty: `knock` if that account exists, else `nobody`.
  std::string user;
  /// KNOCK_REPLAY_CAPACITY: how many accepted packets the replay store holds at once (each is
  /// remembered 2 × MAX_SPA_PACKET_AGE + 1 s, under two keys); beyond that it refuses valid packets
  /// (`replay_store_full`: it fails closed). 48 bytes a key, allocated at start.
  std::uint32_t replay_capacity = 65536;
  std::string syslog_identity = "knock-server";  ///< SYSLOG_IDENTITY
  std::string syslog_facility = "LOG_DAEMON";    ///< SYSLOG_FACILITY
  bool verbose = false;                          ///< VERBOSE
};

namespace detail {
/// fwknopd variables for features knock does not have.
inline constexpr std::string_view unsupported_daemon_variables[] = {"ENABLE_SPA_OVER_HTTP",
                                                                    "ENABLE_X_FORWARDED_FOR",
                                                                    "ENABLE_TCP_SERVER",
                                                                    "TCPSERV_PORT",
                                                                    "ENABLE_IPT_FORWARDING",
                                                                    "ENABLE_IPT_LOCAL_NAT",
                                                                    "ENABLE_IPT_SNAT",
                                                                    "SNAT_TRANSLATE_IP",
                                                                    "ENABLE_IPT_OUTPUT",
                                                                    "ENABLE_DESTINATION_RULE",
                                                                    "ENABLE_RULE_PREPEND",
                                                                    "IPT_INPUT_ACCESS",
                                                                    "IPT_OUTPUT_ACCESS",
                                                                    "IPT_FORWARD_ACCESS",
                                                                    "IPT_DNAT_ACCESS",
                                                                    "IPT_SNAT_ACCESS",
                                                                    "IPT_MASQUERADE_ACCESS",
                                                                    "ENABLE_NAT_DNS",
                                                                    "ENABLE_NFQ_CAPTURE",
                                                                    "NFQ_INTERFACE",
                                                                    "NFQ_PORT",
                                                                    "NFQ_TABLE",
                                                                    "NFQ_CHAIN",
                                                                    "NFQ_QUEUE_NUMBER",
                                                                    "GPG_EXE",
                                                                    "GPG_HOME_DIR",
                                                                    "SUDO_EXE",
                                                                    "ENABLE_EXTERNAL_CMDS",
                                                                    "EXTERNAL_CMD_OPEN",
                                                                    "EXTERNAL_CMD_CLOSE",
                                                                    "EXTERNAL_CMD_ALARM",
                                                                    "ENABLE_EXT_CMD_PREFIX",
                                                                    "EXT_CMD_PREFIX",
                                                                    "DIGEST_DB_FILE",
                                                                    "PCAP_FILE",
                                                                    "ENABLE_FIREWD_FORWARDING",
                                                                    "ENABLE_FIREWD_LOCAL_NAT",
                                                                    "ENABLE_FIREWD_SNAT",
                                                                    "ENABLE_FIREWD_OUTPUT",
                                                                    "ENABLE_FIREWD_COMMENT_CHECK",
                                                                    "FIREWD_INPUT_ACCESS",
                                                                    "FIREWD_OUTPUT_ACCESS",
                                                                    "FIREWD_FORWARD_ACCESS",
                                                                    "FIREWD_DNAT_ACCESS",
                                                                    "FIREWD_SNAT_ACCESS",
                                                                    "FIREWD_MASQUERADE_ACCESS",
                                                                    "FLUSH_FIREWD_AT_INIT",
                                                                    "FLUSH_FIREWD_AT_EXIT",
                                                                    "FLUSH_IPFW_AT_INIT",
                                                                    "FLUSH_IPFW_AT_EXIT",
                                                                    "IPFW_START_RULE_NUM",
                                                                    "IPFW_MAX_RULES",
                                                                    "IPFW_ACTIVE_SET_NUM",
                                                                    "IPFW_EXPIRE_SET_NUM",
                                                                    "IPFW_EXPIRE_PURGE_INTERVAL",
                                                                    "PF_ANCHOR_NAME",
                                                                    "PF_EXPIRE_INTERVAL"};

inline raw_value* find_daemon_variable(raw_fwknopd_conf& c, std::string_view name) noexcept {
  raw_value* found = nullptr;
  boost::hana::for_each(boost::hana::accessors<raw_fwknopd_conf>(), [&](auto member) {
    if (iequals(boost::hana::to<const char*>(boost::hana::first(member)), name))
      found = &boost::hana::second(member)(c);
  });
  return found;
}
}  // namespace detail

/// Parses and checks fwknopd.conf text; `file_name` names it in errors.
inline result<daemon_config, config_error> parse_fwknopd_conf(std::string_view text,
                                                              std::string_view file_name) {
  const std::string file{file_name};
  const auto error = [&](std::size_t line, std::string_view key, std::string message) {
    return fail(config_error{file, line, std::string{key}, std::move(message)});
  };
  raw_fwknopd_conf r;
  for (detail::config_line l{text}; l.next();) {
    if (!l.error.empty()) return error(l.number, l.bad_name ? "" : l.name, std::string{l.error});
    if (detail::listed(detail::unsupported_daemon_variables, l.name)) {
      if (l.name.size() > 7 && detail::iequals(l.name.substr(0, 7), "enable_") &&
          detail::iequals(l.value, "n"))
        continue;  // switched off: the same as knock, which does not have it
      return error(l.number, l.name, "is a fwknopd feature knock does not have");
    }
    raw_value* slot = detail::find_daemon_variable(r, l.name);
    if (slot == nullptr) return error(l.number, l.name, "unknown variable");
    if (slot->is_set())
      return error(l.number, l.name,
                   "set twice (first on line " + std::to_string(slot->line) + ")");
    *slot = raw_value{l.value, l.number};
  }

  daemon_config c;
  std::optional<config_error> first_error;
  const auto take = [&](auto& target, auto checked) {
    if (checked)
      target = *std::move(checked);
    else if (!first_error)
      first_error = checked.error();
  };
  using detail::positive, detail::yes_no;
  take(c.server.packet_aging,
       yes_no(file, r.enable_spa_packet_aging, "ENABLE_SPA_PACKET_AGING", true));
  std::uint32_t age = 120;
  take(age, positive(file, r.max_spa_packet_age, "MAX_SPA_PACKET_AGE", 120, 100000));
  c.server.max_packet_age = age;
  take(c.digest_persistence,
       yes_no(file, r.enable_digest_persistence, "ENABLE_DIGEST_PERSISTENCE", true));
  take(c.promiscuous, yes_no(file, r.enable_pcap_promisc, "ENABLE_PCAP_PROMISC", false));
  take(c.any_direction,
       yes_no(file, r.enable_pcap_any_direction, "ENABLE_PCAP_ANY_DIRECTION", false));
  take(c.udp_server, yes_no(file, r.enable_udp_server, "ENABLE_UDP_SERVER", false));
  std::uint32_t port = 62201;
  take(port, positive(file, r.udpserv_port, "UDPSERV_PORT", 62201, 65535));
  c.udp_port = static_cast<std::uint16_t>(port);
  take(c.flush_at_init, yes_no(file, r.flush_ipt_at_init, "FLUSH_IPT_AT_INIT", true));
  take(c.flush_at_exit, yes_no(file, r.flush_ipt_at_exit, "FLUSH_IPT_AT_EXIT", true));
  take(c.rules_check_threshold,
       positive(file, r.rules_check_threshold, "RULES_CHECK_THRESHOLD", 20));
  take(c.verbose, yes_no(file, r.verbose, "VERBOSE", false));
  take(c.replay_capacity,
       positive(file, r.knock_replay_capacity, "KNOCK_REPLAY_CAPACITY", 65536, 1u << 24));
  if (r.knock_protected_ports.is_set())
    take(c.protected_ports, detail::ports(file, r.knock_protected_ports, "KNOCK_PROTECTED_PORTS"));
  if (first_error) return fail(*first_error);

  if (!c.server.packet_aging && !c.digest_persistence)
    return error(r.enable_spa_packet_aging.line, "ENABLE_SPA_PACKET_AGING",
                 "packet aging may be switched off only with ENABLE_DIGEST_PERSISTENCE Y: without "
                 "both, a restart would forget packets that could be replayed forever");
  if (const raw_value& t = r.firewall_type; t.is_set()) {
    if (!detail::iequals(t.text, "nftables") && !detail::iequals(t.text, "iptables") &&
        !detail::iequals(t.text, "none"))
      return error(t.line, "FIREWALL_TYPE",
                   "unknown value '" + printable(t.text) + "' (known: nftables, iptables, none)");
    c.firewall_type = t.text;
    for (char& ch : c.firewall_type) ch = detail::ascii_lower(ch);
  }
  if (r.pcap_intf.is_set()) {
    c.interfaces.clear();
    for (std::string_view list = r.pcap_intf.text;;) {
      const std::size_t comma = list.find(',');
      if (const auto name = detail::trim(list.substr(0, comma)); !name.empty())
        c.interfaces.emplace_back(name);
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  if (r.pcap_filter.is_set()) c.pcap_filter = r.pcap_filter.text;
  if (r.fwknop_run_dir.is_set()) c.run_dir = r.fwknop_run_dir.text;
  if (r.access_file.is_set()) c.access_file = r.access_file.text;
  if (r.knock_nft_table.is_set()) c.nft_table = r.knock_nft_table.text;
  if (r.knock_user.is_set()) c.user = r.knock_user.text;
  if (r.syslog_identity.is_set()) c.syslog_identity = r.syslog_identity.text;
  if (r.syslog_facility.is_set()) c.syslog_facility = r.syslog_facility.text;
  c.digest_file = r.digest_file.is_set() ? r.digest_file.text : c.run_dir + "/replay.log";
  c.pid_file =
      r.fwknop_pid_file.is_set() ? r.fwknop_pid_file.text : c.run_dir + "/knock-server.pid";
  return c;
}

/// Reads and parses the fwknopd.conf at `path`.
inline result<daemon_config, config_error> load_fwknopd_conf(const std::string& path) {
  auto text = detail::read_config_file(path);
  if (!text) return fail(text.error());
  return parse_fwknopd_conf(*text, path);
}

}  // namespace knock::config
