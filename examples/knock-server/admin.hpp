// SPDX-License-Identifier: MIT
#pragma once
// knock-server's one-shot commands: `-D` (the effective configuration, keys masked),
// `--fw-list` / `--fw-flush` (through whatever firewall backend FIREWALL_TYPE names), and
// `-K` / `-S` / `-R` (signals to the running daemon, found by its pid file).

#include "access.hpp"
#include "options.hpp"
#include "settings.hpp"

#include <knock/codec/base64.hpp>
#include <knock/config/access_conf.hpp>
#include <knock/config/values.hpp>
#include <knock/firewall/setup.hpp>
#include <knock/system/process.hpp>

#include <boost/hana/accessors.hpp>
#include <boost/hana/for_each.hpp>

#include <array>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/random.h>
#include <sys/types.h>
#include <unistd.h>

namespace knock_server {

/// `-D`: the effective configuration, keys masked. The stanza's variables come from reflecting
/// `raw_stanza` (Boost.Hana), so a new variable shows up here without more code.
inline int dump_config(const settings& s, const options& o) {
  // Checked as the daemon would load it (bound, not only parsed), before anything is printed.
  auto bound = load_access(s, o);
  if (!bound)
    return std::fprintf(stderr, "knock-server: %s\n", to_string(bound.error()).c_str()), 1;
  for (const auto& w : s.warnings) std::fprintf(stderr, "knock-server: %s\n", w.c_str());
  for (const auto& w : bound->warnings()) std::fprintf(stderr, "knock-server: %s\n", w.c_str());
  if (!s.access_folder.empty()) {  // the folder's stanzas as bound (the raw dump reads one file)
    std::printf("# knock-server configuration\nACCESS_FOLDER %s: %zu stanza(s)\n",
                s.access_folder.c_str(), bound->stanzas.size());
    for (std::size_t i = 0; i < bound->stanzas.size(); ++i)
      std::printf("  stanza %zu: %s:%zu\n", i + 1, bound->stanzas[i].file.c_str(),
                  bound->stanzas[i].line);
    return 0;
  }
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
  std::vector<knock::config::config_error> left_out;  // reported above
  auto raw = knock::config::parse_access_conf(*text, s.access_file, &files,
                                              o.strict_config ? nullptr : &left_out);
  knock::secure_zero(text->data(), text->size());
  if (!raw) return std::fprintf(stderr, "knock-server: %s\n", to_string(raw.error()).c_str()), 1;
  for (const auto& stanza : *raw) {
    std::printf("\n");
    knock::config::for_each_variable(stanza, [&](std::string_view variable, const auto& v) {
      if (!v.is_set()) return;
      std::string name{variable};
      for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      const bool secret = (name.find("KEY") != std::string::npos && name != "HMAC_DIGEST_TYPE") ||
                          name == "GPG_DECRYPT_PW";
      std::printf("%-24s %s\n", name.c_str(),
                  secret ? "(set, not shown)" : knock::config::printable(v.text).c_str());
    });
  }
  return 0;
}

/// `--exit-parse-config`: the configuration loads (stanzas left out are reported); nothing runs.
inline int check_config(const settings& s, const options& o) {
  auto bound = load_access(s, o);
  if (!bound)
    return std::fprintf(stderr, "knock-server: %s\n", to_string(bound.error()).c_str()), 1;
  for (const auto& w : s.warnings) std::fprintf(stderr, "knock-server: %s\n", w.c_str());
  for (const auto& w : bound->warnings()) std::fprintf(stderr, "knock-server: %s\n", w.c_str());
  std::printf("configuration parsed: %zu stanza(s) from %s, firewall %s, capture %s\n",
              bound->stanzas.size(),
              (s.access_folder.empty() ? s.access_file : s.access_folder).c_str(),
              s.firewall.c_str(), s.capture.c_str());
  return 0;
}

/// fwknopd's `--key-gen`: `key_len` random bytes for an AES key and `hmac_key_len` for an HMAC key,
/// as the KEY_BASE64 / HMAC_KEY_BASE64 lines of an access.conf stanza, on stdout or into a new
/// 0600 file (`--key-gen-file`). The bytes come from getrandom(2) and are wiped after use.
inline int key_gen(const options& o) {
  std::array<knock::byte, 256> bytes{};
  const std::size_t n = o.key_len + o.hmac_key_len;
  for (std::size_t got = 0; got < n;) {
    const ssize_t r = ::getrandom(bytes.data() + got, n - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return std::perror("knock-server: --key-gen: getrandom"), 1;
    got += static_cast<std::size_t>(r);
  }
  std::string text = "KEY_BASE64: ";
  const auto append = [&](std::size_t from, std::size_t count) {
    char out[176];  // 4 * ceil(128 / 3)
    const std::size_t chars = knock::codec::base64::encode({bytes.data() + from, count}, out);
    text.append(out, chars).append((4 - chars % 4) % 4, '=');
    knock::secure_zero(out, sizeof out);
  };
  append(0, o.key_len);
  text += "\nHMAC_KEY_BASE64: ";
  append(o.key_len, o.hmac_key_len);
  text += '\n';
  knock::secure_zero(bytes.data(), bytes.size());
  int status = 0;
  if (o.key_gen_file.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
  } else {
    const int fd = ::open(o.key_gen_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || ::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
      std::fprintf(stderr, "knock-server: --key-gen-file %s: %s\n", o.key_gen_file.c_str(),
                   std::strerror(errno));
      status = 1;
    } else {
      std::printf("[+] Wrote Rijndael and HMAC keys to: %s\n", o.key_gen_file.c_str());
    }
    if (fd >= 0) ::close(fd);
  }
  knock::secure_zero(text.data(), text.size());
  return status;
}

/// `--dump-serv-err-codes`: every reason a packet or a start-up can be refused, by name.
inline int dump_error_codes() {
  for (int i = 1; i < 256; ++i) {
    const auto e = static_cast<knock::errc>(i);
    if (to_string(e) == "unknown") break;
    std::printf("%3d %-28s %s\n", i, std::string{to_string(e)}.c_str(),
                std::string{knock::describe(e)}.c_str());
  }
  return 0;
}

/// `--fw-list` / `--fw-flush` / `--fw-list-all`, next to a running daemon: the backend attaches to
/// what is there. `--fw-list-all` adds the whole rule set of the firewall's tool.
template <class Firewalls>
int firewall_command(const settings& s, const options& o) {
  const bool flush = o.fw_flush;
  auto fw = Firewalls::make(s.firewall, {s.conf, {}, knock::firewall::mode::attach});
  if (!fw) return std::fprintf(stderr, "knock-server: %s\n", to_string(fw.error()).c_str()), 1;
  if (o.fw_list_all) {
    std::printf("# knock's grants (%s)\n", s.firewall.c_str());
    if (auto lines = fw->list(); lines)
      for (const auto& l : *lines) std::printf("%s\n", l.c_str());
    std::fflush(stdout);
    // The whole policy, as its tool prints it (read-only; no shell).
    std::vector<std::string> argv;
    if (s.firewall == "nftables") argv = {knock::system::find_executable("nft"), "list", "ruleset"};
    if (s.firewall == "iptables")
      argv = {knock::system::find_executable(s.conf.text("FIREWALL_EXE", "iptables")), "-L", "-n",
              "-v"};
    if (argv.empty()) return 0;
    std::printf("# the whole policy (%s)\n", knock::system::join_argv(argv).c_str());
    std::fflush(stdout);
    auto ran = knock::system::run(argv);
    if (!ran) return std::fprintf(stderr, "knock-server: %s\n", to_string(ran.error()).c_str()), 1;
    std::fwrite(ran->output.data(), 1, ran->output.size(), stdout);
    std::fwrite(ran->errors.data(), 1, ran->errors.size(), stderr);
    return ran->succeeded() ? 0 : 1;
  }
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
