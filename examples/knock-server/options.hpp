// SPDX-License-Identifier: MIT
#pragma once
// knock-server's command line: fwknopd's flags, plus --decode (offline checks) and a few of
// knock's.

#include <knock/config/access_conf.hpp>
#include <knock/core/grant.hpp>
#include <knock/core/net.hpp>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace knock_server {

inline constexpr std::string_view usage =
    "usage: knock-server [-c FWKNOPD_CONF] [-a ACCESS_CONF] [options]          run the daemon\n"
    "       knock-server -a ACCESS_CONF --decode [--now EPOCH] [--source IP] [--dest IP]\n"
    "                    [-d DIGEST_FILE] [--allow-no-hmac] [FILE...]  check packets offline\n"
    "       knock-server [-c …] --fw-list | --fw-flush | -K | -S | -R | -D\n"
    "options (fwknopd's):\n"
    "  -c, --config-file F   fwknopd.conf (default /etc/fwknop/fwknopd.conf when it exists)\n"
    "  -a, --access-file F   access.conf (default: ACCESS_FILE, /etc/fwknop/access.conf)\n"
    "  -f, --foreground      stay in the foreground, log to stderr (else: daemon, syslog)\n"
    "  -i, --interface IF    capture on IF (a comma list; 'any' for all)\n"
    "  -U, --udp-server      receive on a UDP socket (UDPSERV_PORT) instead of capturing\n"
    "  -d, --digest-file F   the replay log (default: DIGEST_FILE)\n"
    "  -p, --pid-file F      the pid file (default: FWKNOP_PID_FILE)\n"
    "  -t, --test            decide packets but open nothing (firewall 'none')\n"
    "  -D, --dump-config     print the configuration (keys masked) and exit\n"
    "  --fw-list             list the grants in the firewall      --fw-flush  remove knock's "
    "rules\n"
    "  -K, --kill            stop the running daemon   -S, --status   is it running?\n"
    "  -R, --restart         make the running daemon reload its access.conf (SIGHUP)\n"
    "  -v, --verbose         more logging      -V, --version   print the version\n"
    "  -O, --override-config F[,F]  files whose variables override fwknopd.conf's\n"
    "  --access-folder DIR   every DIR/*.conf as the access configuration (instead of -a)\n"
    "  -P, --pcap-filter F   PCAP_FILTER     -r, --run-dir D   FWKNOP_RUN_DIR\n"
    "  -C, --packet-limit N  exit after N candidate packets     -l, --locale L   LOCALE\n"
    "  --pcap-file F         read packets from a pcap file (packet aging off unless set)\n"
    "  --sudo-exe PATH       SUDO_EXE: sudo, for stanzas with ENABLE_CMD_SUDO_EXEC\n"
    "  -k, --key-gen         print a new KEY_BASE64 / HMAC_KEY_BASE64 pair and exit\n"
    "  --key-gen-file F      write them to F (mode 0600) instead   --key-len N, --hmac-key-len N\n"
    "  --pcap-any-direction  ENABLE_PCAP_ANY_DIRECTION Y    --syslog-enable  syslog in -f too\n"
    "  --rotate-digest-cache keep the replay log as DIGEST_FILE-old and start a new one\n"
    "  --exit-parse-config   check the configuration and exit\n"
    "  --exit-parse-digest-cache  check the replay log (DIGEST_FILE) and exit\n"
    "  --fw-list-all         the whole firewall policy, not only knock's rules\n"
    "  --dump-serv-err-codes the reasons a packet is refused, and exit\n"
    "  --no-ipt-check-support, --no-firewd-check-support: accepted (knock never probes -C)\n"
    "  --gpg-home-dir DIR    GnuPG stanzas' keyring when they name none (GPG_HOME_DIR)\n"
    "  --gpg-exe PATH        as fwknopd's (GPG_EXE): read; a stanza's own GPG_EXE is what runs\n"
    "knock's:\n"
    "  --firewall T          nftables (default), iptables or none (FIREWALL_TYPE)\n"
    "  --nft-table NAME      nftables table (default knock)\n"
    "  --protect LIST        ports nftables drops unless granted, e.g. tcp/22 (default: the\n"
    "                        union of the stanzas' OPEN_PORTS; KNOCK_PROTECTED_PORTS)\n"
    "  --udp-port N          UDPSERV_PORT      --json-log   log lines as JSON\n"
    "  --allow-no-hmac       accept stanzas without an HMAC key\n"
    "  --strict-config       refuse the access configuration when any stanza is broken\n"
    "                        (default, as fwknopd: leave it out, log why, run the others)\n"
    "  --user USER[:GROUP]   who the daemon becomes after start-up when started as root\n"
    "                        (KNOCK_USER; default knock if it exists, else nobody; root: stay)\n";

struct options {
  std::string fwknopd_conf, access_conf, digest_file, pid_file, firewall, nft_table, protect, user;
  std::string override_config, access_folder, pcap_filter, run_dir, locale, pcap_file, sudo_exe,
      key_gen_file;
  bool key_gen = false;                           ///< -k, --key-gen (also --key-gen-file)
  std::uint32_t key_len = 32, hmac_key_len = 64;  ///< --key-len, --hmac-key-len (1..128)
  std::string gpg_home_dir, gpg_exe;  ///< --gpg-home-dir (GPG_HOME_DIR), --gpg-exe (GPG_EXE)
  std::optional<std::uint32_t> packet_limit;  ///< -C: exit after this many candidate packets
  std::vector<std::string> interfaces;
  std::optional<std::uint16_t> udp_port;
  bool decode = false, allow_no_hmac = false, foreground = false, udp_server = false, test = false,
       dump_config = false, fw_list = false, fw_flush = false, kill = false, status = false,
       restart = false, verbose = false, json_log = false, exit_parse_config = false,
       exit_parse_digest_cache = false, rotate_digest_cache = false, fw_list_all = false,
       syslog_enable = false, pcap_any_direction = false, version = false, dump_error_codes = false,
       strict_config = false;
  std::optional<std::int64_t> now;
  std::optional<knock::ip_address> source, dest;
  std::vector<std::string> files;  // --decode's packets
};

inline int usage_error(const std::string& what) {
  std::fprintf(stderr, "knock-server: %s\n%.*s", what.c_str(), static_cast<int>(usage.size()),
               usage.data());
  return 2;
}

/// Parses argv into `o`; returns an exit status when the run should stop here.
inline std::optional<int> parse_args(int argc, char** argv, options& o) {
  using knock::config::printable;
  const std::pair<std::string_view, bool options::*> switches[] = {
      {"--decode", &options::decode},
      {"--allow-no-hmac", &options::allow_no_hmac},
      {"-f", &options::foreground},
      {"--foreground", &options::foreground},
      {"-U", &options::udp_server},
      {"--udp-server", &options::udp_server},
      {"-t", &options::test},
      {"--test", &options::test},
      {"-D", &options::dump_config},
      {"--dump-config", &options::dump_config},
      {"--fw-list", &options::fw_list},
      {"--fw-flush", &options::fw_flush},
      {"-K", &options::kill},
      {"--kill", &options::kill},
      {"-S", &options::status},
      {"--status", &options::status},
      {"-R", &options::restart},
      {"--restart", &options::restart},
      {"-v", &options::verbose},
      {"--verbose", &options::verbose},
      {"--json-log", &options::json_log},
      {"--exit-parse-config", &options::exit_parse_config},
      {"--exit-parse-digest-cache", &options::exit_parse_digest_cache},
      {"--rotate-digest-cache", &options::rotate_digest_cache},
      {"--fw-list-all", &options::fw_list_all},
      {"--syslog-enable", &options::syslog_enable},
      {"--pcap-any-direction", &options::pcap_any_direction},
      {"-V", &options::version},
      {"--version", &options::version},
      {"--dump-serv-err-codes", &options::dump_error_codes},
      {"--strict-config", &options::strict_config},
      {"-k", &options::key_gen},
      {"--key-gen", &options::key_gen}};
  // fwknopd probes `iptables -C` / `firewall-cmd ... -C` unless told not to; knock never probes.
  constexpr std::string_view accepted_no_ops[] = {"--no-ipt-check-support",
                                                  "--no-firewd-check-support"};
  const std::pair<std::string_view, std::string options::*> strings[] = {
      {"-c", &options::fwknopd_conf},
      {"--config-file", &options::fwknopd_conf},
      {"-a", &options::access_conf},
      {"--access-file", &options::access_conf},
      {"-d", &options::digest_file},
      {"--digest-file", &options::digest_file},
      {"-p", &options::pid_file},
      {"--pid-file", &options::pid_file},
      {"--firewall", &options::firewall},
      {"--nft-table", &options::nft_table},
      {"--protect", &options::protect},
      {"--user", &options::user},
      {"-O", &options::override_config},
      {"--override-config", &options::override_config},
      {"--access-folder", &options::access_folder},
      {"-P", &options::pcap_filter},
      {"--pcap-filter", &options::pcap_filter},
      {"-r", &options::run_dir},
      {"--run-dir", &options::run_dir},
      {"-l", &options::locale},
      {"--locale", &options::locale},
      {"--pcap-file", &options::pcap_file},
      {"--sudo-exe", &options::sudo_exe},
      {"--key-gen-file", &options::key_gen_file},
      {"--gpg-home-dir", &options::gpg_home_dir},
      {"--gpg-exe", &options::gpg_exe}};
  bool only_files = false;
  std::vector<std::string> expanded;  // "-vvv", "-fv": short switches written together (getopt)
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const bool grouped = a.size() > 2 && a[0] == '-' && a[1] != '-' &&
                         std::all_of(a.begin() + 1, a.end(), [&](char c) {
                           const char flag[] = {'-', c, '\0'};
                           return std::any_of(std::begin(switches), std::end(switches),
                                              [&](const auto& s) { return s.first == flag; });
                         });
    if (grouped)
      for (char c : a.substr(1)) expanded.push_back(std::string{'-', c});
    else
      expanded.emplace_back(a);
  }
  const int count = static_cast<int>(expanded.size());
  for (int i = 0; i < count; ++i) {
    std::string_view arg = expanded[static_cast<std::size_t>(i)];
    if (only_files || arg == "-" || !arg.starts_with('-')) {
      o.files.emplace_back(arg);
      continue;
    }
    if (arg == "--") {
      only_files = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      std::fwrite(usage.data(), 1, usage.size(), stdout);
      return 0;
    }
    bool matched = false;
    for (const auto& [name, member] : switches)
      if (arg == name) o.*member = matched = true;
    if (matched) continue;
    if (std::ranges::find(accepted_no_ops, arg) != std::end(accepted_no_ops)) continue;
    std::optional<std::string_view> value;  // "--now=5" or "--now 5"
    if (const auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos)
      value = arg.substr(eq + 1), arg = arg.substr(0, eq);
    const bool takes_value = arg == "-i" || arg == "--interface" || arg == "--now" ||
                             arg == "--source" || arg == "--dest" || arg == "--udp-port" ||
                             arg == "-C" || arg == "--packet-limit" || arg == "--key-len" ||
                             arg == "--hmac-key-len" ||
                             std::any_of(std::begin(strings), std::end(strings),
                                         [&](const auto& s) { return s.first == arg; });
    if (!takes_value) return usage_error("unknown option '" + printable(arg) + "'");
    if (!value) {
      if (i + 1 == count) return usage_error(std::string{arg} + " needs a value");
      value = expanded[static_cast<std::size_t>(++i)];
    }
    for (const auto& [name, member] : strings)
      if (arg == name) o.*member = *value, matched = true;
    if (matched) continue;
    if (arg == "-i" || arg == "--interface") {
      for (std::string_view list = *value;;) {
        const std::size_t comma = list.find(',');
        if (comma != 0 && !list.empty()) o.interfaces.emplace_back(list.substr(0, comma));
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
      }
    } else if (arg == "--key-len" || arg == "--hmac-key-len") {  // fwknopd's range: 1..128
      std::uint32_t n = 0;
      const auto r = std::from_chars(value->data(), value->data() + value->size(), n);
      if (r.ec != std::errc{} || r.ptr != value->data() + value->size() || n < 1 || n > 128)
        return usage_error(std::string{arg} + ": '" + printable(*value) +
                           "' is not a key length (1..128 bytes)");
      (arg == "--key-len" ? o.key_len : o.hmac_key_len) = n;
    } else if (arg == "-C" || arg == "--packet-limit") {  // fwknopd's range: 0..2^31
      std::uint32_t n = 0;
      const auto r = std::from_chars(value->data(), value->data() + value->size(), n);
      if (r.ec != std::errc{} || r.ptr != value->data() + value->size() || n > (1u << 31))
        return usage_error(std::string{arg} + ": '" + printable(*value) +
                           "' is not a packet count (0..2147483648)");
      if (n != 0) o.packet_limit = n;  // 0: no limit, as fwknopd
    } else if (arg == "--now" || arg == "--udp-port") {
      std::int64_t t = 0;
      const auto r = std::from_chars(value->data(), value->data() + value->size(), t);
      const bool port = arg == "--udp-port";
      if (r.ec != std::errc{} || r.ptr != value->data() + value->size() || t < 0 ||
          (port && (t == 0 || t > 65535)))
        return usage_error(std::string{arg} + ": '" + printable(*value) + "' is not " +
                           (port ? "a port" : "seconds since the epoch"));
      if (port)
        o.udp_port = static_cast<std::uint16_t>(t);
      else
        o.now = t;
    } else {
      const auto a = knock::ip_address::parse(*value);
      if (!a)
        return usage_error(std::string{arg} + ": '" + printable(*value) +
                           "' is not an IPv4 or IPv6 address");
      (arg == "--source" ? o.source : o.dest) = *a;
    }
  }
  if (!o.key_gen_file.empty()) o.key_gen = true;
  if (o.decode && o.access_conf.empty()) return usage_error("--decode needs -a ACCESS_CONF");
  // As fwknopd (getopt leaves them, it never reads them): words that are no option are ignored,
  // said once on stderr ("-P udp port 62201" unquoted, say).
  if (!o.decode && !o.files.empty()) {
    std::string words;
    for (const auto& f : o.files) words += (words.empty() ? "'" : ", '") + printable(f) + "'";
    std::fprintf(stderr, "knock-server: ignoring %s: not an option (quote a value with spaces)\n",
                 words.c_str());
    o.files.clear();
  }
  return std::nullopt;
}

}  // namespace knock_server
