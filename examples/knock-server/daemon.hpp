// SPDX-License-Identifier: MIT
#pragma once
// The knock-server daemon: settings → a capture source and a firewall backend (each chosen by
// name from the compile-time lists `Captures` and `Firewalls`), a replay store (the replay log,
// Redis shared with other gateways (replay_redis.hpp), or memory), then the event loop until a stop
// signal. The steps live in their own headers:
//
//   serve.hpp        the event loop: packets, the firewall's answers, reloads, the 1 s tick
//   settings.hpp     fwknopd.conf + command line        admin.hpp     -D, --fw-list, -K/-S/-R
//   startup.hpp      account, privileges, pid file      cycles.hpp    CMD_CYCLE_OPEN/CLOSE
//   config_reader.hpp  the privileged reader that reads the configuration for reloads
//   event_loop.hpp   epoll, timer, signals (RAII)       command_exec.hpp  ENABLE_CMD_EXEC

#include "access.hpp"
#include "admin.hpp"
#include "ciphers.hpp"
#include "command_exec.hpp"
#include "cycles.hpp"
#include "event_loop.hpp"
#include "log.hpp"
#include "metrics_listener.hpp"
#include "options.hpp"
#include "per_worker_store.hpp"
#include "serve.hpp"
#include "settings.hpp"
#include "startup.hpp"
#include "tcp_server.hpp"
#include "workers.hpp"

#include <knock/cipher/any_of.hpp>
#include <knock/codec/http.hpp>
#include <knock/config/access_conf.hpp>
#include <knock/core/time.hpp>
#include <knock/firewall/async.hpp>
#include <knock/firewall/setup.hpp>
#include <knock/mac/any_of.hpp>
#include <knock/observe/log.hpp>
#include <knock/observe/metrics.hpp>
#include <knock/server.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <sys/eventfd.h>
#include <unistd.h>

namespace knock_server {

/// The daemon's firewall: the backend (and the command cycles) on a writer thread of its own,
/// so that the capture loop never waits for iptables, nft or a CMD_CYCLE command.
template <class Firewalls>
using daemon_firewall = knock::firewall::async<with_command_cycles<Firewalls>>;

/// The daemon's server over `SharedStore`, the replay store as the workers (KNOCK_WORKERS) share
/// it; the log (with its metrics) is shared behind a mutex.
template <class Firewalls, class SharedStore>
using daemon_server_over =
    knock::server<server_cipher, knock::mac::any_hmac, daemon_firewall<Firewalls>, SharedStore,
                  locked_observer<knock::observe::with_metrics<knock::observe::log_lines>>>;
/// A local store (memory, the replay log) behind one mutex for all the workers.
template <class Firewalls, class Store>
using daemon_server = daemon_server_over<Firewalls, locked_store<Store>>;

// What serve.hpp's receive_batch relies on, checked where the types are chosen: the replay log
// behind the workers' lock still batches its writes and syncs (one per capture batch, not one per
// packet), and Redis behind it still answers a batch in one round trip. Either lost, the daemon
// would silently fall back to the per-packet path.
static_assert(knock::commit_batching_store<locked_store<knock::replay::file_store>>);
#if KNOCK_SERVER_REDIS
static_assert(knock::pipelining_replay_store<per_worker_store<knock::replay::redis_store>>);
static_assert(knock::replay_lookup<per_worker_store<knock::replay::redis_store>>);
#endif

/// The ports the firewall protects: configured, else the union of the stanzas' OPEN_PORTS.
template <class Stanzas>
std::vector<knock::port_spec> protected_ports(const settings& s, const Stanzas& stanzas) {
  if (s.protected_ports) return {s.protected_ports->begin(), s.protected_ports->end()};
  std::vector<knock::port_spec> out;
  for (const auto& st : stanzas)
    if (st.open_ports)
      for (const auto& p : *st.open_ports)
        if (std::ranges::find(out, p) == out.end()) out.push_back(p);
  return out;
}

/// Runs the daemon until a stop signal; the exit status.
template <class Firewalls, class Captures>
int daemon_main(const options& o) {
  if (o.version) return std::printf("knock-server %s (a drop-in for fwknopd 2.6)\n", version), 0;
  if (o.dump_error_codes) return dump_error_codes();
  if (o.key_gen) return key_gen(o);  // as fwknopd: before any configuration is read
  auto loaded = load_settings<Firewalls, Captures>(o);
  if (!loaded)
    return std::fprintf(stderr, "knock-server: %s\n", to_string(loaded.error()).c_str()), 1;
  const settings& s = *loaded;
  if (o.kill || o.status || o.restart) return control(s, o);
  if (o.fw_list || o.fw_flush || o.fw_list_all) return firewall_command<Firewalls>(s, o);
  if (o.dump_config) return dump_config(s, o);
  if (o.exit_parse_config) return check_config(s, o);
  const auto failed = [](const auto& e) {
    return std::fprintf(stderr, "knock-server: %s\n", to_string(e).c_str()), 1;
  };

  auto access = load_access(s, o);
  if (!access) return failed(access.error());
  auto* stanzas = &access->stanzas;
  if (o.exit_parse_digest_cache) {  // as fwknopd: after the configuration, the replay log alone
    if (!s.digest_persistence) return std::printf("replay log: none (in memory)\n"), 0;
    auto store =
        knock::replay::file_store::open(s.digest_file, knock::now_seconds(), s.replay_keys());
    if (!store) return failed(store.error());
    std::printf("replay log %s: parsed, %zu corrupt line(s) skipped\n", s.digest_file.c_str(),
                static_cast<std::size_t>(store->report().corrupt));
    return 0;
  }
  if (const auto pid = running_pid(s.pid_file))
    return std::fprintf(stderr, "knock-server: already running (pid %d, %s)\n", *pid,
                        s.pid_file.c_str()),
           1;
  auto who = plan_account(s);
  if (!who) return failed(who.error());
  // KNOCK_WORKERS: a capture for each further worker, opened now (as root). Packet and pcap
  // sockets join one fanout group, UDP sockets share their port (SO_REUSEPORT); either way the
  // kernel gives each flow to one of them.
  const bool gnupg = uses_gnupg(*stanzas);
  const unsigned sharing = gnupg ? 1 : s.workers;
  auto capture = Captures::make(s.capture, {s.conf, sharing});
  if (!capture) return failed(capture.error());
  std::vector<Captures> more;
  std::string workers_note;
  if (s.workers > 1 && capture->shared_by() == knock::capture::share_mode::none) {
    workers_note = "KNOCK_WORKERS " + std::to_string(s.workers) +
                   ": one worker only: a capture file (PCAP_FILE, --pcap-file) is read once, "
                   "by one";
  } else if (s.workers > 1 && gnupg) {
    workers_note = "KNOCK_WORKERS " + std::to_string(s.workers) +
                   ": one worker only: a stanza decrypts with GnuPG, whose contexts one thread "
                   "at a time may use";
  } else if (s.workers > 1) {
    for (unsigned i = 1; i < s.workers; ++i) {
      auto c = Captures::make(s.capture, {s.conf, sharing});
      if (!c) return failed(c.error());
      more.push_back(*std::move(c));
    }
    if (capture->shared_by() == knock::capture::share_mode::fanout) {
      const auto group = static_cast<std::uint16_t>(::getpid());
      if (auto ok = join_fanout(capture->fds(), group); !ok) return failed(ok.error());
      for (auto& c : more)
        if (auto ok = join_fanout(c.fds(), group); !ok) return failed(ok.error());
    }
  }
  std::optional<tcp_server> tcp;  // before the privilege drop: TCPSERV_PORT may be below 1024
  if (s.tcp_server_port) {
    auto listening = tcp_server::open(*s.tcp_server_port);
    if (!listening) return failed(listening.error());
    tcp = *std::move(listening);
  }
  std::optional<metrics_listener> metrics;  // before the privilege drop too: the port may be low
  if (s.metrics_listen) {
    auto listening = metrics_listener::open(*s.metrics_listen);
    if (!listening) return failed(listening.error());
    metrics = *std::move(listening);
  }
  const auto ports = protected_ports(s, *stanzas);
  const std::size_t resident_before_firewall = resident_bytes();
  auto backend = Firewalls::make(s.firewall, {s.conf, ports, knock::firewall::mode::install});
  if (!backend) return failed(backend.error());
  const std::size_t firewall_resident =
      std::max(resident_bytes(), resident_before_firewall) - resident_before_firewall;
  with_command_cycles<Firewalls> firewall{*std::move(backend)};
  auto cycles = make_command_cycles(*stanzas);
  if (!cycles) return failed(cycles.error());
  firewall.set_cycles(*std::move(cycles));

  const stream packets = o.foreground ? packet_stream() : nullptr;
  const logger log{o.foreground, o.syslog_enable, packets.get()};
  if (!o.foreground && ::daemon(0, 0) != 0) return std::perror("knock-server: daemon"), 1;
  if (!o.foreground || o.syslog_enable)
    ::openlog(s.syslog_identity.c_str(), LOG_PID, s.syslog_facility);
  for (const auto& w : s.warnings) log(LOG_WARNING, w);
  for (const auto& w : access->warnings()) log(LOG_WARNING, w);
  if (!workers_note.empty()) log(LOG_WARNING, workers_note);
  if (o.rotate_digest_cache && s.digest_persistence) {  // fwknopd's: keep it as FILE-old
    const std::string old = s.digest_file + "-old";
    if (::rename(s.digest_file.c_str(), old.c_str()) == 0)
      log(LOG_NOTICE, "replay log rotated: " + s.digest_file + " -> " + old);
    else if (errno != ENOENT)
      log(LOG_WARNING, "cannot rotate the replay log to " + old + ": " + std::strerror(errno));
  }
  knock::firewall::privileges needs = Firewalls::needs(s.firewall);
  needs.net_raw |= !s.exit_at_intf_down;  // EXIT_AT_INTF_DOWN N: the capture may be opened again
  auto reader = drop_root(*who, s, o, needs, *stanzas, log);
  if (!reader) return log(LOG_ERR, to_string(reader.error())), 1;
  config_reader* const reads = *reader ? &**reader : nullptr;
  // The pid file and the replay log belong to the account the daemon runs as: created and opened
  // as it, so a restart (possibly without CAP_DAC_OVERRIDE, as under the systemd unit) finds them.
  const pid_file pid{s.pid_file, log};
  const auto lines = [&, count = stanzas->size()] {
    return knock::observe::with_metrics<knock::observe::log_lines>{
        std::move(knock::observe::log_lines{!o.foreground        ? nullptr
                                            : packets != nullptr ? packets.get()
                                                                 : stderr,
                                            o.json_log ? knock::observe::log_lines::format::json
                                                       : knock::observe::log_lines::format::text}
                      .flush_each_line(packets == nullptr)),
        count};
  };
  // The firewall writer: started after the privilege drop, so its thread has the capabilities
  // the daemon kept and no others (they are per thread). A backend that never waits (-t,
  // FIREWALL_TYPE none) runs on the capture threads instead: no thread to wake for each batch.
  knock::firewall::async_options writing;
  writing.inline_when_instant = true;
  auto writer = daemon_firewall<Firewalls>::start(std::move(firewall), writing);
  if (!writer) return log(LOG_ERR, to_string(writer.error())), 1;
  typename daemon_server<Firewalls, knock::replay::memory_store>::rules_type rules{
      std::move(*stanzas), s.server};
#if KNOCK_SERVER_REDIS
  if (s.redis) {  // shared with the other gateways; replaces the replay log
    // A connection (and local filter) per worker: a worker's round trip holds up no other.
    std::vector<knock::replay::redis_store> stores;
    stores.push_back(open_redis_store(*s.redis, s.replay_keys(), log));
    for (std::size_t i = 0; i < more.size(); ++i) {
      stores.push_back(make_redis_store(*s.redis, s.replay_keys()));
      (void)stores.back().connect();  // a failure is the first store's, logged already
    }
    daemon_server_over<Firewalls, per_worker_store<knock::replay::redis_store>> server{
        std::move(rules), per_worker_store{std::move(stores)}, *std::move(writer),
        locked_observer{lines()}};
    return serve(server, *capture, std::span{more}, tcp ? &*tcp : nullptr,
                 metrics ? &*metrics : nullptr, reads, s, o, log);
  }
#endif
  if (s.digest_persistence) {
    auto store = open_replay_log(s, knock::now_seconds(), log);
    if (!store) return log(LOG_ERR, to_string(store.error())), 1;
    daemon_server<Firewalls, knock::replay::file_store> server{
        std::move(rules), locked_store{*std::move(store)}, *std::move(writer),
        locked_observer{lines()}};
    log(LOG_NOTICE, server.replay_store().with_lock([&](const auto& store) {
      return memory_line(*capture, store, s, firewall_resident);
    }));
    return serve(server, *capture, std::span{more}, tcp ? &*tcp : nullptr,
                 metrics ? &*metrics : nullptr, reads, s, o, log);
  }
  daemon_server<Firewalls, knock::replay::memory_store> server{
      std::move(rules), locked_store{knock::replay::memory_store{s.replay_keys()}},
      *std::move(writer), locked_observer{lines()}};
  log(LOG_NOTICE, server.replay_store().with_lock([&](const auto& store) {
    return memory_line(*capture, store, s, firewall_resident);
  }));
  return serve(server, *capture, std::span{more}, tcp ? &*tcp : nullptr,
               metrics ? &*metrics : nullptr, reads, s, o, log);
}

}  // namespace knock_server
