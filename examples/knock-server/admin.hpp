// SPDX-License-Identifier: MIT
#pragma once
// knock-server's one-shot commands: `-D` (the effective configuration, keys masked),
// `--fw-list` / `--fw-flush` (through whatever firewall backend FIREWALL_TYPE names), and
// `-K` / `-S` / `-R` (signals to the running daemon, found by its pid file).

#include "options.hpp"
#include "settings.hpp"

#include <knock/config/access_conf.hpp>
#include <knock/config/values.hpp>
#include <knock/firewall/setup.hpp>

#include <boost/hana/accessors.hpp>
#include <boost/hana/for_each.hpp>

#include <cctype>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>

#include <sys/types.h>

namespace knock_server {

/// `-D`: the effective configuration, keys masked. The stanza's variables come from reflecting
/// `raw_stanza` (Boost.Hana), so a new variable shows up here without more code.
inline int dump_config(const settings& s, const options& o) {
  // Checked as the daemon would load it (bound, not only parsed), before anything is printed.
  if (auto bound =
          knock::config::load_access_conf(s.access_file, {.allow_no_hmac = o.allow_no_hmac});
      !bound)
    return std::fprintf(stderr, "knock-server: %s\n", to_string(bound.error()).c_str()), 1;
  std::printf("# knock-server configuration\nFIREWALL_TYPE %s\nKNOCK_CAPTURE %s\n",
              s.firewall.c_str(), s.capture.c_str());
  std::printf(
      "ENABLE_SPA_PACKET_AGING %s\nMAX_SPA_PACKET_AGE %lld\nENABLE_DIGEST_PERSISTENCE %s\n"
      "DIGEST_FILE %s\nFWKNOP_PID_FILE %s\nACCESS_FILE %s\nKNOCK_USER %s\n"
      "KNOCK_REPLAY_CAPACITY %u\n",
      s.server.packet_aging ? "Y" : "N", static_cast<long long>(s.server.max_packet_age),
      s.digest_persistence ? "Y" : "N", s.digest_file.c_str(), s.pid_file.c_str(),
      s.access_file.c_str(), s.user.empty() ? "(knock, else nobody)" : s.user.c_str(),
      s.replay_capacity);
  // The rest as set in fwknopd.conf or on the command line (the parts' own variables).
  for (const auto& [name, v] : s.conf.variables())
    std::printf("%-24s %s\n", name.c_str(), knock::config::printable(v.text).c_str());

  auto text = knock::config::read_config_file(s.access_file);
  if (!text) return std::fprintf(stderr, "knock-server: %s\n", to_string(text.error()).c_str()), 1;
  const auto files = knock::config::file_system();
  auto raw = knock::config::parse_access_conf(*text, s.access_file, &files);
  knock::secure_zero(text->data(), text->size());
  if (!raw) return std::fprintf(stderr, "knock-server: %s\n", to_string(raw.error()).c_str()), 1;
  for (const auto& stanza : *raw) {
    std::printf("\n");
    boost::hana::for_each(boost::hana::accessors<knock::config::raw_stanza>(), [&](auto member) {
      const auto& v = boost::hana::second(member)(stanza);
      if (!v.is_set()) return;
      std::string name = boost::hana::to<const char*>(boost::hana::first(member));
      for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      const bool secret = name.find("KEY") != std::string::npos && name != "HMAC_DIGEST_TYPE";
      std::printf("%-24s %s\n", name.c_str(),
                  secret ? "(set, not shown)" : knock::config::printable(v.text).c_str());
    });
  }
  return 0;
}

/// `--fw-list` / `--fw-flush`, next to a running daemon: the backend attaches to what is there.
template <class Firewalls>
int firewall_command(const settings& s, bool flush) {
  auto fw = Firewalls::make(s.firewall, {s.conf, {}, knock::firewall::mode::attach});
  if (!fw) return std::fprintf(stderr, "knock-server: %s\n", to_string(fw.error()).c_str()), 1;
  if (flush) {
    if (auto ok = fw->flush(); !ok)
      return std::fprintf(stderr, "knock-server: %s\n", to_string(ok.error()).c_str()), 1;
    return 0;
  }
  auto lines = fw->list();
  if (!lines)
    return std::fprintf(stderr, "knock-server: %s\n", to_string(lines.error()).c_str()), 1;
  for (const auto& l : *lines) std::printf("%s\n", l.c_str());
  return 0;
}

/// The pid in `pid_file` when that process is alive.
inline std::optional<pid_t> running_pid(const std::string& pid_file) {
  std::ifstream in{pid_file};
  long pid = 0;
  if (!(in >> pid) || pid <= 0 || ::kill(static_cast<pid_t>(pid), 0) != 0) return std::nullopt;
  return static_cast<pid_t>(pid);
}

/// `-K`, `-S`, `-R`.
inline int control(const settings& s, const options& o) {
  const auto pid = running_pid(s.pid_file);
  if (o.status) {
    if (pid)
      std::printf("knock-server is running (pid %d)\n", *pid);
    else
      std::printf("knock-server is not running\n");
    return pid ? 0 : 1;
  }
  if (!pid)
    return std::fprintf(stderr, "knock-server: not running (no live pid in %s)\n",
                        s.pid_file.c_str()),
           1;
  if (::kill(*pid, o.kill ? SIGTERM : SIGHUP) != 0) return std::perror("knock-server: kill"), 1;
  std::printf("%s sent to knock-server (pid %d)\n", o.kill ? "SIGTERM" : "SIGHUP", *pid);
  return 0;
}

}  // namespace knock_server
