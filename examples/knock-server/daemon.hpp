// SPDX-License-Identifier: MIT
#pragma once
// The knock-server daemon: fwknopd.conf + access.conf → a capture (pcap on interfaces, or a UDP
// socket), a firewall (nftables, iptables or none), a replay store (a file, or memory), and an
// epoll loop over the capture, a 1 s timer (firewall expiry) and signals (TERM/INT stop, HUP
// reloads access.conf). One log line per packet. No sleep-polling anywhere.

#include "options.hpp"
#include "run_as.hpp"

#include <knock/capture/pcap.hpp>
#include <knock/capture/udp_socket.hpp>
#include <knock/cipher/any_of.hpp>
#include <knock/config/access_conf.hpp>
#include <knock/config/fwknopd_conf.hpp>
#include <knock/detail/process.hpp>
#include <knock/firewall/command.hpp>
#include <knock/firewall/iptables.hpp>
#include <knock/firewall/nftables.hpp>
#include <knock/firewall/recording.hpp>
#include <knock/mac/any_of.hpp>
#include <knock/observe/log.hpp>
#include <knock/replay/file_store.hpp>
#include <knock/server.hpp>

#include <boost/hana/accessors.hpp>
#include <boost/hana/for_each.hpp>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <syslog.h>
#include <unistd.h>

namespace knock_server {

/// The firewall FIREWALL_TYPE names, chosen at run time, plus the command cycles (CMD_CYCLE_*) of
/// the stanzas that have them: their grants run commands instead. Models knock::firewall_policy.
class any_firewall {
 public:
  using role = knock::role::firewall;
  using backend = std::variant<knock::firewall::recording, knock::firewall::nftables,
                               knock::firewall::iptables>;
  any_firewall() = default;
  explicit any_firewall(backend b) : backend_{std::move(b)} {}

  knock::result<void> open(const knock::grant& g) {
    if (cycles_ &&
        std::find(cycle_stanzas_.begin(), cycle_stanzas_.end(), g.stanza) != cycle_stanzas_.end())
      return noted(cycles_->open(g), "CMD_CYCLE", *cycles_);
    return std::visit([&](auto& f) { return noted(f.open(g), backend_name(), f); }, backend_);
  }
  knock::result<void> expire(knock::epoch_seconds now) {
    auto ok =
        std::visit([&](auto& f) { return noted(f.expire(now), backend_name(), f); }, backend_);
    if (cycles_)
      if (auto closed = noted(cycles_->expire(now), "CMD_CYCLE", *cycles_); !closed) return closed;
    return ok;
  }
  /// Installs the command cycles of (re)loaded stanzas; the old ones' pending closes run now.
  void set_cycles(std::optional<knock::firewall::command> cycles,
                  std::vector<std::size_t> stanzas) {
    if (cycles_) (void)cycles_->flush();
    cycles_ = std::move(cycles);
    cycle_stanzas_ = std::move(stanzas);
  }
  backend& get() noexcept { return backend_; }

  /// Which part failed last ("nftables", "iptables", "none" or "CMD_CYCLE") and what it said
  /// (empty when it says nothing): for the log.
  const std::string& failed_part() const noexcept { return failed_part_; }
  const std::string& last_error() const noexcept { return error_; }
  /// How often the backend remade its rules after they were deleted or damaged under the daemon.
  std::size_t repairs() const noexcept {
    return std::visit(
        [](const auto& f) -> std::size_t {
          if constexpr (requires { f.repairs(); })
            return f.repairs();
          else
            return 0;
        },
        backend_);
  }

 private:
  const char* backend_name() const noexcept {
    constexpr const char* names[] = {"none", "nftables", "iptables"};  // the variant's order
    return names[backend_.index()];
  }
  template <class Part>
  knock::result<void> noted(knock::result<void> r, const char* part, const Part& p) {
    if (!r) {
      failed_part_ = part;
      if constexpr (requires { p.last_error(); })
        error_ = p.last_error();
      else
        error_.clear();
    }
    return r;
  }

  backend backend_;
  std::optional<knock::firewall::command> cycles_;
  std::vector<std::size_t> cycle_stanzas_;  // 1-based
  std::string failed_part_, error_;
};

/// The command backend for the stanzas with CMD_CYCLE_OPEN (none: nullopt), or why it cannot run.
template <class Stanzas>
knock::result<std::pair<std::optional<knock::firewall::command>, std::vector<std::size_t>>>
command_cycles(const Stanzas& stanzas, std::string& why) {
  knock::firewall::command_options options;
  std::vector<std::size_t> numbers;
  for (std::size_t i = 0; i < stanzas.size(); ++i) {
    if (stanzas[i].cmd_cycle_open.empty()) continue;
    knock::firewall::command_cycle c;
    c.open = stanzas[i].cmd_cycle_open;
    if (!stanzas[i].cmd_cycle_close.empty()) c.close = stanzas[i].cmd_cycle_close;
    c.stanza = i + 1;
    options.cycles.push_back(std::move(c));
    numbers.push_back(i + 1);
  }
  if (numbers.empty()) return std::pair{std::optional<knock::firewall::command>{}, numbers};
  auto cmd = knock::firewall::command::open(std::move(options), &why);
  if (!cmd) return knock::fail(cmd.error());
  return std::pair{std::optional<knock::firewall::command>{*std::move(cmd)}, numbers};
}

/// The capture, pcap or UDP socket, chosen at run time.
class any_capture {
 public:
  explicit any_capture(std::variant<knock::capture::pcap, knock::capture::udp_socket> c)
      : capture_{std::move(c)} {}
  std::span<const int> fds() const noexcept {
    return std::visit([](const auto& c) { return c.fds(); }, capture_);
  }
  template <class F>
  knock::result<std::size_t> receive(F&& f) {
    return std::visit([&](auto& c) { return c.receive(f); }, capture_);
  }

 private:
  std::variant<knock::capture::pcap, knock::capture::udp_socket> capture_;
};

template <class Store>
using daemon_server = knock::server<knock::cipher::any_rijndael, knock::mac::any_hmac, any_firewall,
                                    Store, knock::observe::log_lines>;

inline knock::epoch_seconds wall_clock() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// Everything the daemon runs with, from the files and the command line.
struct settings {
  knock::config::daemon_config daemon;
  std::string access_file;
};

inline std::optional<settings> load_settings(const options& o) {
  settings s;
  std::string conf = o.fwknopd_conf;
  if (conf.empty() && ::access("/etc/fwknop/fwknopd.conf", R_OK) == 0)
    conf = "/etc/fwknop/fwknopd.conf";
  if (!conf.empty()) {
    auto d = knock::config::load_fwknopd_conf(conf);
    if (!d) {
      std::fprintf(stderr, "knock-server: %s\n", knock::config::to_string(d.error()).c_str());
      return std::nullopt;
    }
    s.daemon = *std::move(d);
  } else {
    s.daemon =
        *knock::config::parse_fwknopd_conf("", "(defaults)");  // the parser owns the defaults
  }
  auto& d = s.daemon;
  if (!o.interfaces.empty()) d.interfaces = o.interfaces;
  if (o.udp_server) d.udp_server = true;
  if (o.udp_port) d.udp_port = *o.udp_port;
  if (!o.digest_file.empty()) d.digest_file = o.digest_file, d.digest_persistence = true;
  if (!o.pid_file.empty()) d.pid_file = o.pid_file;
  if (!o.firewall.empty()) d.firewall_type = o.firewall;
  if (o.test) d.firewall_type = "none";
  if (!o.nft_table.empty()) d.nft_table = o.nft_table;
  if (!o.user.empty()) d.user = o.user;
  if (!o.protect.empty()) {
    knock::config::raw_value v{o.protect, 0};
    auto ports = knock::config::detail::ports("command line", v, "--protect");
    if (!ports) {
      std::fprintf(stderr, "knock-server: %s\n", knock::config::to_string(ports.error()).c_str());
      return std::nullopt;
    }
    d.protected_ports = *ports;
  }
  if (d.firewall_type != "nftables" && d.firewall_type != "iptables" && d.firewall_type != "none") {
    std::fprintf(stderr, "knock-server: firewall '%s' is not one of nftables, iptables, none\n",
                 knock::config::printable(d.firewall_type).c_str());
    return std::nullopt;
  }
  s.access_file = o.access_conf.empty() ? d.access_file : o.access_conf;
  return s;
}

/// `-D`: the effective configuration, keys masked. The stanza's variables come from reflecting
/// `raw_stanza` (Boost.Hana), so a new variable shows up here without more code.
inline int dump_config(const settings& s, const options& o) {
  const auto& d = s.daemon;
  // Checked as the daemon would load it (bound, not only parsed), before anything is printed.
  if (auto bound =
          knock::config::load_access_conf(s.access_file, {.allow_no_hmac = o.allow_no_hmac});
      !bound)
    return std::fprintf(stderr, "knock-server: %s\n", to_string(bound.error()).c_str()), 1;
  std::printf("# knock-server configuration\nFIREWALL_TYPE %s\nPCAP_INTF ",
              d.firewall_type.c_str());
  for (std::size_t i = 0; i < d.interfaces.size(); ++i)
    std::printf("%s%s", i ? "," : "", d.interfaces[i].c_str());
  std::printf(
      "\nPCAP_FILTER %s\nENABLE_UDP_SERVER %s\nUDPSERV_PORT %u\nENABLE_SPA_PACKET_AGING %s\n"
      "MAX_SPA_PACKET_AGE %lld\nENABLE_DIGEST_PERSISTENCE %s\nDIGEST_FILE %s\nFWKNOP_PID_FILE %s\n"
      "ACCESS_FILE %s\nKNOCK_USER %s\nKNOCK_REPLAY_CAPACITY %u\n",
      d.pcap_filter.c_str(), d.udp_server ? "Y" : "N", d.udp_port,
      d.server.packet_aging ? "Y" : "N", static_cast<long long>(d.server.max_packet_age),
      d.digest_persistence ? "Y" : "N", d.digest_file.c_str(), d.pid_file.c_str(),
      s.access_file.c_str(), d.user.empty() ? "(knock, else nobody)" : d.user.c_str(),
      d.replay_capacity);
  auto text = knock::config::detail::read_config_file(s.access_file);
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

/// The ports nftables protects: configured, else the union of the stanzas' OPEN_PORTS.
template <class Stanzas>
std::vector<knock::port_spec> protected_ports(const settings& s, const Stanzas& stanzas) {
  std::vector<knock::port_spec> out;
  if (s.daemon.protected_ports)
    return {s.daemon.protected_ports->begin(), s.daemon.protected_ports->end()};
  for (const auto& st : stanzas)
    if (st.open_ports)
      for (const auto& p : *st.open_ports)
        if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  return out;
}

inline std::optional<any_firewall> open_firewall(const settings& s,
                                                 std::span<const knock::port_spec> ports,
                                                 bool for_setup = true) {
  std::string why;
  const auto& d = s.daemon;
  if (d.firewall_type == "nftables") {
    if (for_setup && ports.empty()) {
      std::fprintf(stderr,
                   "knock-server: nftables needs the ports to protect: set OPEN_PORTS in the "
                   "stanzas, KNOCK_PROTECTED_PORTS in fwknopd.conf, or --protect\n");
      return std::nullopt;
    }
    knock::firewall::nftables_options o;
    o.table = d.nft_table;
    o.protected_ports.assign(ports.begin(), ports.end());
    o.keep_grants = true;
    auto fw = for_setup ? knock::firewall::nftables::open(o, &why)
                        : knock::firewall::nftables::attach(d.nft_table, &why);
    if (!fw) return std::fprintf(stderr, "knock-server: nftables: %s\n", why.c_str()), std::nullopt;
    return any_firewall{*std::move(fw)};
  }
  if (d.firewall_type == "iptables") {
    knock::firewall::iptables_options o;
    o.flush_at_open = d.flush_at_init;
    o.rules_check_threshold = d.rules_check_threshold;
    auto fw = for_setup ? knock::firewall::iptables::open(o, &why)
                        : knock::firewall::iptables::attach(o, &why);
    if (!fw) return std::fprintf(stderr, "knock-server: iptables: %s\n", why.c_str()), std::nullopt;
    return any_firewall{*std::move(fw)};
  }
  return any_firewall{};
}

/// `--fw-list` / `--fw-flush`.
inline int firewall_command(const settings& s, bool flush) {
  auto fw = open_firewall(s, {}, /*for_setup=*/false);
  if (!fw) return 1;
  return std::visit(
      [&](auto& f) -> int {
        if constexpr (std::is_same_v<std::decay_t<decltype(f)>, knock::firewall::recording>) {
          std::printf("firewall 'none': nothing to %s\n", flush ? "flush" : "list");
          return 0;
        } else {
          if (flush)
            return f.flush() ? 0 : (std::fprintf(stderr, "knock-server: flush failed\n"), 1);
          auto lines = f.list();
          if (!lines) return std::fprintf(stderr, "knock-server: listing failed\n"), 1;
          for (const auto& l : *lines) std::printf("%s\n", l.c_str());
          return 0;
        }
      },
      fw->get());
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
  const auto pid = running_pid(s.daemon.pid_file);
  if (o.status) {
    if (pid)
      std::printf("knock-server is running (pid %d)\n", *pid);
    else
      std::printf("knock-server is not running\n");
    return pid ? 0 : 1;
  }
  if (!pid)
    return std::fprintf(stderr, "knock-server: not running (no live pid in %s)\n",
                        s.daemon.pid_file.c_str()),
           1;
  if (::kill(*pid, o.kill ? SIGTERM : SIGHUP) != 0) return std::perror("knock-server: kill"), 1;
  std::printf("%s sent to knock-server (pid %d)\n", o.kill ? "SIGTERM" : "SIGHUP", *pid);
  return 0;
}

inline void log_line(bool foreground, int level, const std::string& line) {
  if (foreground)
    std::fprintf(stderr, "knock-server: %s\n", line.c_str());
  else
    ::syslog(level, "%s", line.c_str());
}

/// ENABLE_CMD_EXEC: runs an accepted command message's text (after "IP,") split on blanks, without
/// a shell, as the stanza's CMD_EXEC_USER / CMD_EXEC_GROUP, for at most 30 s, on a thread of its
/// own so the packet loop never waits for it; its end is logged.
template <class Stanza>
void run_command(const Stanza& s, const knock::spa_message& m, bool foreground) {
  std::string_view text = m.message;
  text.remove_prefix(text.find(',') + 1);
  std::vector<std::string> argv;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t start = text.find_first_not_of(" \t", at);
    if (start == std::string_view::npos) break;
    const std::size_t end = std::min(text.find_first_of(" \t", start), text.size());
    argv.emplace_back(text.substr(start, end - start));
    at = end;
  }
  const std::string shown = knock::config::printable(text);
  if (argv.empty()) return;
  argv[0] = knock::detail::find_executable(
      argv[0], "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  if (argv[0].empty()) return log_line(foreground, LOG_WARNING, "command not found: " + shown);
  knock::detail::process_options po;
  po.timeout = std::chrono::seconds{30};
  po.inherit_capabilities = false;  // a command runs with none of the daemon's capabilities
  if (!s.cmd_exec_user.empty()) {
    const passwd* pw = ::getpwnam(s.cmd_exec_user.c_str());
    if (pw == nullptr)
      return log_line(foreground, LOG_WARNING, "CMD_EXEC_USER " + s.cmd_exec_user + " is gone");
    po.user = pw->pw_uid;
    po.group = pw->pw_gid;
  }
  if (!s.cmd_exec_group.empty()) {
    const group* gr = ::getgrnam(s.cmd_exec_group.c_str());
    if (gr == nullptr)
      return log_line(foreground, LOG_WARNING, "CMD_EXEC_GROUP " + s.cmd_exec_group + " is gone");
    po.group = gr->gr_gid;
  }
  log_line(foreground, LOG_NOTICE, "running command: " + shown);
  std::thread([argv = std::move(argv), po, shown, foreground] {
    const auto r = knock::detail::run(argv, po);
    if (!r) return log_line(foreground, LOG_WARNING, "command could not start: " + shown);
    log_line(foreground, r->succeeded() ? LOG_NOTICE : LOG_WARNING,
             "command " + std::string{r->timed_out ? "timed out" : "ended"} + " (exit " +
                 std::to_string(r->exit_status) + "): " + shown);
  }).detach();
}

template <class Store>
int serve(const settings& s, const options& o, typename daemon_server<Store>::rules_type rules,
          Store store, any_firewall firewall, any_capture capture, int signals) {
  daemon_server<Store> server{
      std::move(rules), std::move(store), std::move(firewall),
      knock::observe::log_lines{o.foreground ? stderr : nullptr,
                                o.json_log ? knock::observe::log_lines::format::json
                                           : knock::observe::log_lines::format::text}};
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  const int timer = ::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  const itimerspec every_second{{1, 0}, {1, 0}};
  ::timerfd_settime(timer, 0, &every_second, nullptr);
  epoll_event ev{};
  ev.events = EPOLLIN;
  for (int fd : capture.fds()) ev.data.fd = fd, ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  ev.data.fd = timer, ::epoll_ctl(ep, EPOLL_CTL_ADD, timer, &ev);
  ev.data.fd = signals, ::epoll_ctl(ep, EPOLL_CTL_ADD, signals, &ev);

  const auto log = [&](int level, const std::string& line) { log_line(o.foreground, level, line); };
  // Rules remade after they were deleted or damaged under the daemon: logged when it happens.
  std::size_t repairs_logged = server.firewall().repairs();
  const auto log_repairs = [&] {
    if (const std::size_t n = server.firewall().repairs(); n != repairs_logged) {
      repairs_logged = n;
      log(LOG_WARNING, "firewall " + s.daemon.firewall_type +
                           ": its rules were missing or damaged (changed under the daemon): "
                           "remade them (" +
                           std::to_string(n) + " time(s) so far)");
    }
  };
  const auto on_datagram = [&](const knock::datagram& d) {
    const knock::verdict v = server.handle(d, wall_clock());
    if (v.accepted || v.reason == knock::errc::firewall_failed)
      log_repairs();  // only grants repair
    if (!v.accepted && v.reason == knock::errc::firewall_failed)
      log(LOG_ERR, "packet from " + to_string(d.source) +
                       ": nothing granted, the firewall failed: " +
                       server.firewall().failed_part() + ": " + server.firewall().last_error());
    if constexpr (requires { server.replay_store().last_error(); })
      if (!v.accepted && v.reason == knock::errc::io_failed)
        log(LOG_ERR, "packet from " + to_string(d.source) +
                         ": refused, the replay log failed: " + server.replay_store().last_error());
    if (v.accepted && v.message && v.message->type == knock::message_type::command)
      run_command(server.rules().stanzas[*v.stanza - 1], *v.message, o.foreground);
  };
  log(LOG_NOTICE, "started: " + std::to_string(server.rules().stanzas.size()) +
                      " stanza(s), firewall " + s.daemon.firewall_type +
                      (s.daemon.udp_server ? ", UDP port " + std::to_string(s.daemon.udp_port)
                                           : ", capturing with pcap"));
  int status = 0;
  for (bool running = true; running;) {
    epoll_event events[16];
    const int n = ::epoll_wait(ep, events, 16, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      log(LOG_ERR, std::string{"epoll_wait: "} + std::strerror(errno));
      status = 1;
      break;
    }
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == signals) {
        signalfd_siginfo si{};
        while (::read(signals, &si, sizeof si) == sizeof si) {
          if (si.ssi_signo == SIGHUP) {
            auto reloaded =
                knock::config::load_access_conf(s.access_file, {.allow_no_hmac = o.allow_no_hmac});
            if (!reloaded) {
              log(LOG_ERR, "reload refused, keeping the old rules: " + to_string(reloaded.error()));
            } else if (std::string why; auto cycles = command_cycles(*reloaded, why)) {
              const std::size_t count = reloaded->size();
              server.firewall().set_cycles(std::move(cycles->first), std::move(cycles->second));
              server.replace_rules({*std::move(reloaded), s.daemon.server});
              log(LOG_NOTICE,
                  "reloaded " + s.access_file + ": " + std::to_string(count) + " stanza(s)");
            } else {
              log(LOG_ERR, "reload refused, keeping the old rules: CMD_CYCLE: " + why);
            }
          } else {
            log(LOG_NOTICE,
                std::string{"stopping on "} + ::strsignal(static_cast<int>(si.ssi_signo)));
            running = false;
          }
        }
      } else if (fd == timer) {
        std::uint64_t ticks = 0;
        (void)::read(timer, &ticks, sizeof ticks);
        server.observer().tick();  // a flood's last summary of suppressed refusals, on time
        if constexpr (requires { server.replay_store().commit(); })  // refused packets' keys
          if (auto ok = server.replay_store().commit(); !ok)
            log(LOG_ERR, "replay log: " + server.replay_store().last_error());
        if (auto ok = server.firewall().expire(wall_clock()); !ok) {
          const std::string& why = server.firewall().last_error();
          log(LOG_WARNING, "firewall " + server.firewall().failed_part() +
                               ": expiry or check failed" + (why.empty() ? "" : ": " + why));
        }
        log_repairs();
      } else if (auto got = capture.receive(on_datagram); !got) {
        log(LOG_ERR, "capture failed: " + knock::error_name(got.error()));
        status = 1;
        running = false;
      }
    }
  }
  ::close(timer);
  ::close(ep);
  if (s.daemon.firewall_type == "iptables" && s.daemon.flush_at_exit)
    if (auto* ipt = std::get_if<knock::firewall::iptables>(&server.firewall().get()))
      (void)ipt->flush();
  // nftables: the table stays, so the protected ports stay closed and grants expire in the kernel.
  return status;
}

/// The replay store's size in keys: two per packet (the payload's and the message's).
inline std::size_t replay_keys(const knock::config::daemon_config& d) {
  return 2 * std::size_t{d.replay_capacity};
}

/// Runs the daemon until a stop signal; the exit status.
inline int daemon_main(const options& o) {
  auto s = load_settings(o);
  if (!s) return 1;
  if (o.dump_config) return dump_config(*s, o);
  if (o.fw_list || o.fw_flush) return firewall_command(*s, o.fw_flush);
  if (o.kill || o.status || o.restart) return control(*s, o);

  const auto& d = s->daemon;
  auto stanzas =
      knock::config::load_access_conf(s->access_file, {.allow_no_hmac = o.allow_no_hmac});
  if (!stanzas)
    return std::fprintf(stderr, "knock-server: %s\n", to_string(stanzas.error()).c_str()), 1;
  if (const auto pid = running_pid(d.pid_file))
    return std::fprintf(stderr, "knock-server: already running (pid %d, %s)\n", *pid,
                        d.pid_file.c_str()),
           1;

  // Who the daemon becomes after start-up, and whether that user can keep the replay log.
  std::string why;
  std::optional<account> run_as;
  if (::geteuid() == 0) {
    run_as = find_account(d.user, why);
    if (!run_as) return std::fprintf(stderr, "knock-server: %s\n", why.c_str()), 1;
    if (run_as->is_root())
      ::mkdir(d.run_dir.c_str(), 0700);
    else
      (void)claim_run_dir(d.run_dir, *run_as,
                          {file_name_of(d.pid_file), file_name_of(d.digest_file),
                           file_name_of(d.digest_file) + ".tmp"});
    if (d.digest_persistence && !run_as->is_root() &&
        !may_access(*run_as, directory_of(d.digest_file), W_OK | X_OK, &why))
      return std::fprintf(stderr,
                          "knock-server: DIGEST_FILE %s: user %s, which the daemon runs as after "
                          "start-up, cannot write in %s: %s (make it writable, choose another "
                          "DIGEST_FILE, or set KNOCK_USER / --user)\n",
                          d.digest_file.c_str(), run_as->name.c_str(),
                          directory_of(d.digest_file).c_str(), why.c_str()),
             1;
  } else {
    ::mkdir(d.run_dir.c_str(), 0700);
  }

  std::optional<any_capture> capture;
  if (d.udp_server) {
    knock::capture::udp_socket_options uo;
    uo.port = d.udp_port;
    auto c = knock::capture::udp_socket::open(uo, &why);
    if (!c)
      return std::fprintf(stderr, "knock-server: UDP port %u: %s\n", d.udp_port, why.c_str()), 1;
    capture.emplace(*std::move(c));
  } else {
    knock::capture::pcap_options po;
    po.interfaces = d.interfaces;
    po.filter = d.pcap_filter;
    po.promiscuous = d.promiscuous;
    po.inbound_only = !d.any_direction;
    auto c = knock::capture::pcap::open(po, &why);
    if (!c) return std::fprintf(stderr, "knock-server: capture: %s\n", why.c_str()), 1;
    capture.emplace(*std::move(c));
  }
  const auto ports = protected_ports(*s, *stanzas);
  auto firewall = open_firewall(*s, ports);
  if (!firewall) return 1;
  auto cycles = command_cycles(*stanzas, why);
  if (!cycles) return std::fprintf(stderr, "knock-server: CMD_CYCLE: %s\n", why.c_str()), 1;
  firewall->set_cycles(std::move(cycles->first), std::move(cycles->second));

  if (!o.foreground) {
    if (::daemon(0, 0) != 0) return std::perror("knock-server: daemon"), 1;
    ::openlog(d.syslog_identity.c_str(), LOG_PID, LOG_DAEMON);
  }

  sigset_t mask;
  sigemptyset(&mask);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&mask, sig);
  ::sigprocmask(SIG_BLOCK, &mask, nullptr);
  const int signals = ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

  // What only root may open is open: from here on, the account and only the capabilities
  // the configuration needs (also when started unprivileged with capabilities, e.g. by systemd).
  if (!run_as || !run_as->is_root()) {
    const account me = run_as ? *run_as : current_account();
    const auto plan = privilege_plan_for(me, d.firewall_type, *stanzas);
    if (auto dropped = knock::drop_privileges(plan, &why); !dropped) {
      log_line(o.foreground, LOG_ERR, "cannot drop privileges: " + why);
      return 1;
    }
    log_line(o.foreground, LOG_NOTICE,
             "running as " + me.name + " (uid " + std::to_string(me.uid) + "), capabilities " +
                 plan.keep.to_string());
    if (::access(s->access_file.c_str(), R_OK) != 0)
      log_line(o.foreground, LOG_WARNING,
               s->access_file + " is not readable by " + me.name +
                   ": a reload (SIGHUP) will be refused until it is");
  } else {
    log_line(o.foreground, LOG_WARNING, "KNOCK_USER is root: the daemon keeps running as root");
  }

  // The pid file and the replay log belong to the account it runs as: created and opened as it, so
  // a restart (as root, possibly without CAP_DAC_OVERRIDE, as under the systemd unit) finds them
  // in its run directory and the daemon can always rewrite them.
  if (std::FILE* pid = std::fopen(d.pid_file.c_str(), "w"))
    std::fprintf(pid, "%d\n", ::getpid()), std::fclose(pid);
  else
    log_line(o.foreground, LOG_WARNING,
             "cannot write the pid file " + d.pid_file + ": " + std::strerror(errno));

  std::optional<knock::replay::file_store> digests;
  if (d.digest_persistence) {
    std::string failure;
    auto store =
        knock::replay::file_store::open(d.digest_file, wall_clock(), replay_keys(d), &failure);
    if (!store) {  // logged: after daemon() stderr goes nowhere
      log_line(o.foreground, LOG_ERR,
               "cannot open the replay log (DIGEST_FILE): " +
                   (failure.empty() ? d.digest_file + ": " + knock::error_name(store.error())
                                    : failure));
      ::unlink(d.pid_file.c_str());
      return 1;
    }
    if (store->report().corrupt != 0)
      log_line(o.foreground, LOG_WARNING,
               d.digest_file + ": skipped " + std::to_string(store->report().corrupt) +
                   " corrupt line(s) of the replay log (garbage, or a write torn by a crash)");
    digests.emplace(*std::move(store));
  }

  const int status =
      digests
          ? serve<knock::replay::file_store>(*s, o, {*std::move(stanzas), d.server},
                                             *std::move(digests), *std::move(firewall),
                                             *std::move(capture), signals)
          : serve<knock::replay::memory_store>(*s, o, {*std::move(stanzas), d.server},
                                               knock::replay::memory_store{replay_keys(d)},
                                               *std::move(firewall), *std::move(capture), signals);
  ::unlink(d.pid_file.c_str());
  return status;
}

}  // namespace knock_server
