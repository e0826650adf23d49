// SPDX-License-Identifier: MIT
#pragma once
// knock-server's settings: fwknopd.conf, with the command line's overrides. The program reads its
// own variables here; the server core, the firewall backend and the capture source read theirs
// (each lists them), so the set of variables this build knows follows from its backend lists.

#include "metrics_listener.hpp"
#include "options.hpp"
#include "replay_redis.hpp"

#include <knock/config/fwknopd_conf.hpp>
#include <knock/config/values.hpp>
#include <knock/core/name_list.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

namespace knock_server {

/// The variables the program itself reads.
inline constexpr std::string_view program_variables[] = {"ENABLE_DIGEST_PERSISTENCE",
                                                         "DIGEST_FILE",
                                                         "FWKNOP_RUN_DIR",
                                                         "FWKNOP_CONF_DIR",
                                                         "ACCESS_FILE",
                                                         "ACCESS_FOLDER",
                                                         "FWKNOP_PID_FILE",
                                                         "FIREWALL_TYPE",
                                                         "KNOCK_CAPTURE",
                                                         "ENABLE_UDP_SERVER",
                                                         "ENABLE_TCP_SERVER",
                                                         "TCPSERV_PORT",
                                                         "EXIT_AT_INTF_DOWN",
                                                         "SUDO_EXE",
                                                         "ENABLE_SPA_OVER_HTTP",
                                                         "ALLOW_ANY_USER_AGENT",
                                                         "ENABLE_X_FORWARDED_FOR",
                                                         "KNOCK_USER",
                                                         "KNOCK_REPLAY_CAPACITY",
                                                         "KNOCK_REPLAY_REDIS",
                                                         "KNOCK_REPLAY_REDIS_PASSWORD_FILE",
                                                         "KNOCK_REPLAY_REDIS_TIMEOUT",
                                                         "KNOCK_REPLAY_REDIS_PREFIX",
                                                         "KNOCK_REPLAY_REDIS_WAIT",
                                                         "KNOCK_REPLAY_REDIS_TLS_CA",
                                                         "KNOCK_REPLAY_REDIS_TLS_CERT",
                                                         "KNOCK_REPLAY_REDIS_TLS_KEY",
                                                         "KNOCK_REPLAY_REDIS_TLS_NAME",
                                                         "KNOCK_REPLAY_REDIS_TLS_CRL",
                                                         "KNOCK_PROTECTED_PORTS",
                                                         "KNOCK_WORKERS",
                                                         "KNOCK_METRICS_LISTEN",
                                                         "KNOCK_METRICS_FILE",
                                                         "SYSLOG_IDENTITY",
                                                         "SYSLOG_FACILITY",
                                                         "VERBOSE",
                                                         "LOCALE"};

/// Everything the daemon runs with, from the files and the command line.
struct settings {
  explicit settings(knock::config::fwknopd_conf c) : conf{std::move(c)} {}

  knock::config::fwknopd_conf conf;      ///< every variable, for the parts that read their own
  knock::access::server_options server;  ///< ENABLE_SPA_PACKET_AGING, MAX_SPA_PACKET_AGE
  std::string firewall = "nftables";     ///< FIREWALL_TYPE (`--firewall`; `-t`: none), lower case
  std::string capture = "pcap";          ///< KNOCK_CAPTURE; "udp" with ENABLE_UDP_SERVER Y or `-U`
  bool digest_persistence = true;        ///< ENABLE_DIGEST_PERSISTENCE: file_store, not memory
  std::string run_dir = "/run/knock";    ///< FWKNOP_RUN_DIR
  std::string digest_file;               ///< DIGEST_FILE (default: run_dir/replay.log)
  std::string pid_file;                  ///< FWKNOP_PID_FILE (default: run_dir/knock-server.pid)
  std::string access_file = "/etc/fwknop/access.conf";  ///< ACCESS_FILE (`-a`)
  /// ACCESS_FOLDER (`--access-folder`): when set, its `*.conf` files, in name order, are the
  /// access configuration instead of `access_file` (as fwknopd).
  std::string access_folder;
  std::optional<knock::port_list> protected_ports;  ///< KNOCK_PROTECTED_PORTS, `--protect`
  /// KNOCK_USER: who the daemon becomes after start-up when started as root ("user" or
  /// "user:group"; "root" keeps root). Empty: `knock` if that account exists, else `nobody`.
  std::string user;
  /// KNOCK_REPLAY_CAPACITY: accepted packets the replay store holds at once (each under two
  /// keys, for 2 × MAX_SPA_PACKET_AGE + 1 s); beyond that it fails closed (`replay_store_full`).
  std::uint32_t replay_capacity = 65536;
  /// KNOCK_REPLAY_REDIS (replay_redis.hpp): replay memory shared with other gateways through
  /// Redis, instead of the replay log; KNOCK_REPLAY_CAPACITY sizes its local first filter.
  std::optional<redis_settings> redis;
  std::string syslog_identity = "knock-server";  ///< SYSLOG_IDENTITY
  int syslog_facility = LOG_DAEMON;              ///< SYSLOG_FACILITY
  bool verbose = false;                          ///< VERBOSE (`-v`)
  /// ENABLE_TCP_SERVER Y: the port (TCPSERV_PORT, 62201) of the listener that accepts a TCP
  /// client's connection (tcp_server.hpp); unset: none.
  std::optional<std::uint16_t> tcp_server_port;
  /// EXIT_AT_INTF_DOWN (Y): exit when the capture fails (a supervisor restarts the daemon); N:
  /// log it and try the capture again every second until the interface is back.
  bool exit_at_intf_down = true;
  /// KNOCK_WORKERS: threads that capture and decide packets (packet or pcap sockets in one
  /// PACKET_FANOUT group; UDP server sockets sharing the port, SO_REUSEPORT); `auto`: one per
  /// core. 1 by default.
  unsigned workers = 1;
  /// ENABLE_SPA_OVER_HTTP: a captured `GET /<packet>` request is decoded as fwknopd decodes it
  /// (codec/http.hpp), with ALLOW_ANY_USER_AGENT and ENABLE_X_FORWARDED_FOR.
  bool spa_over_http = false, allow_any_user_agent = false, x_forwarded_for = false;
  /// SUDO_EXE (`--sudo-exe`): sudo, for stanzas with ENABLE_CMD_SUDO_EXEC.
  std::string sudo_exe = "/usr/bin/sudo";
  /// KNOCK_METRICS_LISTEN: where Prometheus scrapes `/metrics` (metrics_listener.hpp); unset:
  /// no listener.
  std::optional<metrics_endpoint> metrics_listen;
  /// KNOCK_METRICS_FILE: a file the same text is written to every second (temporary file, then
  /// rename), for node_exporter's textfile collector; empty: none.
  std::string metrics_file;
  /// Lines of fwknopd.conf left out as fwknopd leaves them out (a variable without a value), for
  /// the log; empty with `--strict-config`, which refuses them.
  std::vector<std::string> warnings;

  /// The replay store's size in keys: two per packet (the payload's and the message's).
  std::size_t replay_keys() const noexcept { return 2 * std::size_t{replay_capacity}; }
};

using settings_result = knock::result<settings, knock::config::config_error>;

/// fwknopd.conf at `path` (empty: the defaults), then each file of the comma list `overrides`
/// (fwknopd's `-O`: its variables replace the main file's, errors name the file they are in),
/// refusing variables that none of the program, the server core, `Firewalls` and `Captures` reads.
template <class Firewalls, class Captures>
knock::result<knock::config::fwknopd_conf, knock::config::config_error> load_conf(
    const std::string& path, std::string_view overrides = {},
    std::vector<knock::config::config_error>* skipped = nullptr) {
  auto conf = path.empty() ? knock::config::parse_fwknopd_conf("", "(defaults)")
                           : knock::config::load_fwknopd_conf(path, skipped);
  if (!conf) return conf;
  while (!overrides.empty()) {
    const std::size_t comma = overrides.find(',');
    const std::string file{overrides.substr(0, comma)};
    overrides = comma == std::string_view::npos ? std::string_view{} : overrides.substr(comma + 1);
    if (file.empty()) continue;
    auto more = knock::config::load_fwknopd_conf(file, skipped);
    if (!more) return more;
    for (const auto& [name, v] : more->variables()) conf->set(name, v.text, v.line, file);
  }
  if (auto known = conf->refuse_unknown(program_variables, knock::config::server_variables,
                                        Firewalls::variables, Captures::variables);
      !known)
    return knock::fail(known.error());
  return conf;
}

/// The settings from fwknopd.conf (`-c`, else /etc/fwknop/fwknopd.conf when readable) and `o`.
template <class Firewalls, class Captures>
settings_result load_settings(const options& o) {
  using knock::fail;
  std::string path = o.fwknopd_conf;
  if (path.empty() && ::access("/etc/fwknop/fwknopd.conf", R_OK) == 0)
    path = "/etc/fwknop/fwknopd.conf";
  std::vector<knock::config::config_error> skipped;
  auto conf =
      load_conf<Firewalls, Captures>(path, o.override_config, o.strict_config ? nullptr : &skipped);
  if (!conf) return fail(conf.error());
  settings s{*std::move(conf)};
  for (const auto& e : skipped) s.warnings.push_back(to_string(e));
  auto& c = s.conf;

  // The command line overrides the file; the parts read these variables from `conf`.
  const auto override = [&](std::string_view name, const std::string& value) {
    if (!value.empty()) c.set(name, value);
  };
  std::string interfaces;
  for (const auto& i : o.interfaces) interfaces += (interfaces.empty() ? "" : ",") + i;
  override("PCAP_INTF", interfaces);
  if (o.udp_port) override("UDPSERV_PORT", std::to_string(*o.udp_port));
  override("KNOCK_NFT_TABLE", o.nft_table);
  override("PCAP_FILTER", o.pcap_filter);
  override("FWKNOP_RUN_DIR", o.run_dir);
  override("LOCALE", o.locale);
  override("PCAP_FILE", o.pcap_file);
  if (o.pcap_any_direction) c.set("ENABLE_PCAP_ANY_DIRECTION", "Y");
  // As fwknopd: packets from a file are old by nature, so aging is off unless the file says.
  if (!o.pcap_file.empty() && !c.has("ENABLE_SPA_PACKET_AGING"))
    c.set("ENABLE_SPA_PACKET_AGING", "N");

  auto server = knock::config::read_server_options(c, o.firewall);  // NAT switches: FIREWD or IPT
  if (!server) return fail(server.error());
  s.server = *server;
  auto persist = c.yes_no("ENABLE_DIGEST_PERSISTENCE", true);
  if (!persist) return fail(persist.error());
  s.digest_persistence = *persist || !o.digest_file.empty();
  auto udp = c.yes_no("ENABLE_UDP_SERVER", false);
  if (!udp) return fail(udp.error());
  auto tcp = c.yes_no("ENABLE_TCP_SERVER", false);
  if (!tcp) return fail(tcp.error());
  auto tcp_port = c.number("TCPSERV_PORT", 62201, 65535);
  if (!tcp_port) return fail(tcp_port.error());
  if (*tcp) s.tcp_server_port = static_cast<std::uint16_t>(*tcp_port);
  auto exit_down = c.yes_no("EXIT_AT_INTF_DOWN", true);
  if (!exit_down) return fail(exit_down.error());
  s.exit_at_intf_down = *exit_down;
  if (c.has("KNOCK_WORKERS")) {
    const std::string w = c.text("KNOCK_WORKERS");
    if (w == "auto" || w == "AUTO") {
      s.workers = std::max(1u, std::thread::hardware_concurrency());
    } else {
      auto n = c.number("KNOCK_WORKERS", 1, 256);
      if (!n) return fail(n.error());
      if (*n == 0) return fail(c.error("KNOCK_WORKERS", "'0': at least 1 worker, or auto"));
      s.workers = *n;
    }
  }
  for (auto [name, flag] : {std::pair{"ENABLE_SPA_OVER_HTTP", &s.spa_over_http},
                            std::pair{"ALLOW_ANY_USER_AGENT", &s.allow_any_user_agent},
                            std::pair{"ENABLE_X_FORWARDED_FOR", &s.x_forwarded_for}}) {
    auto yes = c.yes_no(name, false);
    if (!yes) return fail(yes.error());
    *flag = *yes;
  }
  // As fwknopd: --gpg-home-dir and --gpg-exe must name something that exists, in a path
  // shorter than its 1024-byte buffer.
  for (const auto& [flag, path] :
       {std::pair{"--gpg-home-dir", &o.gpg_home_dir}, std::pair{"--gpg-exe", &o.gpg_exe}}) {
    struct stat st {};
    if (path->empty()) continue;
    if (path->size() >= 1024)
      return fail(knock::config::config_error{"command line", 0, flag,
                                              "the path is too long (1023 bytes at most)"});
    if (::lstat(path->c_str(), &st) != 0)
      return fail(knock::config::config_error{
          "command line", 0, flag,
          "'" + knock::config::printable(*path) + "': " + std::strerror(errno)});
  }
  if (!o.sudo_exe.empty()) {  // as fwknopd: the flag must name an executable
    if (::access(o.sudo_exe.c_str(), X_OK) != 0)
      return fail(knock::config::config_error{
          "command line", 0, "--sudo-exe",
          "'" + knock::config::printable(o.sudo_exe) + "' is not an executable file"});
    c.set("SUDO_EXE", o.sudo_exe);
  }
  if (const auto& sudo = c["SUDO_EXE"]; sudo.is_set()) {
    if (!sudo.text.starts_with('/'))  // run with an argument vector: a path, never a search
      return fail(c.error("SUDO_EXE",
                          "'" + knock::config::printable(sudo.text) + "' is not an absolute path"));
    s.sudo_exe = sudo.text;
  }
  auto capacity = c.number("KNOCK_REPLAY_CAPACITY", 65536, 1u << 24);
  if (!capacity) return fail(capacity.error());
  s.replay_capacity = *capacity;
  auto redis = read_redis_settings(c);
  if (!redis) return fail(redis.error());
  s.redis = *std::move(redis);
  auto verbose = c.yes_no("VERBOSE", false);
  if (!verbose) return fail(verbose.error());
  s.verbose = *verbose || o.verbose;
  auto ports = c.ports("KNOCK_PROTECTED_PORTS");
  if (!ports) return fail(ports.error());
  s.protected_ports = *ports;
  if (!o.protect.empty()) {
    auto p = knock::config::read_ports("command line", o.protect, "--protect");
    if (!p) return fail(p.error());
    s.protected_ports = *p;
  }
  if (c.has("KNOCK_METRICS_LISTEN")) {
    const std::string at = c.text("KNOCK_METRICS_LISTEN");
    s.metrics_listen = metrics_endpoint::parse(at);
    if (!s.metrics_listen)
      return fail(c.error("KNOCK_METRICS_LISTEN",
                          "'" + knock::config::printable(at) +
                              "' is not ADDRESS:PORT (127.0.0.1:9466, [::1]:9466)"));
  }
  s.metrics_file = c.text("KNOCK_METRICS_FILE");
  if (!s.metrics_file.empty() && !s.metrics_file.starts_with('/'))
    return fail(c.error("KNOCK_METRICS_FILE", "'" + knock::config::printable(s.metrics_file) +
                                                  "' is not an absolute path"));
  if (!s.server.packet_aging && !s.digest_persistence)
    return fail(c.error("ENABLE_SPA_PACKET_AGING",
                        "packet aging may be switched off only with ENABLE_DIGEST_PERSISTENCE Y: "
                        "without both, a restart would forget packets that could be replayed "
                        "forever"));

  // Every part's variables are checked, whichever part runs (as fwknopd checks all of them).
  if (auto ok = Firewalls::check(c); !ok) return fail(ok.error());
  if (auto ok = Captures::check(c); !ok) return fail(ok.error());

  // Which backends: checked against the lists this program was built with.
  // FIREWALL_TYPE and --firewall are checked even when -t (firewall 'none') overrides them.
  const auto firewall_name = [](std::string name) {
    for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return name;
  };
  const auto unknown_firewall = [&](const std::string& name) {
    return "unknown value '" + knock::config::printable(name) +
           "' (known: " + knock::join_names(Firewalls::names) + ")";
  };
  const std::string configured =
      firewall_name(c.text("FIREWALL_TYPE", Firewalls::names[0]));  // default: the first
  if (!Firewalls::knows(configured))
    return fail(c.error("FIREWALL_TYPE", unknown_firewall(configured)));
  const std::string flag = firewall_name(o.firewall);
  if (!flag.empty() && !Firewalls::knows(flag))
    return fail(
        knock::config::config_error{"command line", 0, "--firewall", unknown_firewall(flag)});
  s.firewall = o.test ? "none" : !flag.empty() ? flag : configured;
  if (!Firewalls::knows(s.firewall))  // a build without 'none' cannot run -t
    return fail(knock::config::config_error{"command line", 0, "-t", unknown_firewall(s.firewall)});
  // The default is the list's first source; a savefile (PCAP_FILE, --pcap-file) is libpcap's.
  const bool savefile = !c.text("PCAP_FILE").empty() && Captures::knows("pcap");
  s.capture = *udp || o.udp_server
                  ? "udp"
                  : c.text("KNOCK_CAPTURE", savefile ? "pcap" : Captures::names[0]);
  if (!Captures::knows(s.capture))
    return fail(c.error("KNOCK_CAPTURE", "unknown value '" + knock::config::printable(s.capture) +
                                             "' (known: " + knock::join_names(Captures::names) +
                                             ")"));

  s.run_dir = c.text("FWKNOP_RUN_DIR", s.run_dir);
  if (c.has("FWKNOP_RUN_DIR")) {  // as fwknopd: absolute, and a directory when it exists
    struct stat st {};
    if (!s.run_dir.starts_with('/'))
      return fail(c.error("FWKNOP_RUN_DIR",
                          "'" + knock::config::printable(s.run_dir) + "' is not an absolute path"));
    if (::stat(s.run_dir.c_str(), &st) == 0 && !S_ISDIR(st.st_mode))
      return fail(c.error("FWKNOP_RUN_DIR",
                          "'" + knock::config::printable(s.run_dir) + "' is not a directory"));
  }
  s.access_file = !o.access_conf.empty() ? o.access_conf : c.text("ACCESS_FILE", s.access_file);
  s.access_folder = !o.access_folder.empty() ? o.access_folder : c.text("ACCESS_FOLDER");
  s.digest_file =
      !o.digest_file.empty() ? o.digest_file : c.text("DIGEST_FILE", s.run_dir + "/replay.log");
  s.pid_file =
      !o.pid_file.empty() ? o.pid_file : c.text("FWKNOP_PID_FILE", s.run_dir + "/knock-server.pid");
  s.user = !o.user.empty() ? o.user : c.text("KNOCK_USER");
  s.syslog_identity = c.text("SYSLOG_IDENTITY", s.syslog_identity);
  if (c.has("SYSLOG_FACILITY")) {  // fwknopd's: LOG_DAEMON or LOG_LOCAL0..7, any case
    constexpr std::pair<std::string_view, int> facilities[] = {
        {"LOG_DAEMON", LOG_DAEMON}, {"LOG_LOCAL0", LOG_LOCAL0}, {"LOG_LOCAL1", LOG_LOCAL1},
        {"LOG_LOCAL2", LOG_LOCAL2}, {"LOG_LOCAL3", LOG_LOCAL3}, {"LOG_LOCAL4", LOG_LOCAL4},
        {"LOG_LOCAL5", LOG_LOCAL5}, {"LOG_LOCAL6", LOG_LOCAL6}, {"LOG_LOCAL7", LOG_LOCAL7}};
    const std::string name = c.text("SYSLOG_FACILITY");
    const auto* f = std::ranges::find_if(facilities, [&](const auto& e) {
      return std::ranges::equal(e.first, name, [](char a, char b) {
        return std::toupper(static_cast<unsigned char>(a)) ==
               std::toupper(static_cast<unsigned char>(b));
      });
    });
    if (f == std::end(facilities))
      return fail(c.error("SYSLOG_FACILITY", "'" + knock::config::printable(name) +
                                                 "' is not LOG_DAEMON or LOG_LOCAL0..7"));
    s.syslog_facility = f->second;
  }
  return s;
}

}  // namespace knock_server
