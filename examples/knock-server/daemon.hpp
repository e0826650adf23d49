// SPDX-License-Identifier: MIT
#pragma once
// The knock-server daemon: settings → a capture source and a firewall backend (each chosen by
// name from the compile-time lists `Captures` and `Firewalls`), a replay store (the replay log,
// Redis shared with other gateways (replay_redis.hpp), or memory), then the event loop until a stop
// signal. The steps live in their own headers:
//
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

inline constexpr const char* version = "0.1.0";

/// The daemon's firewall: the backend (and the command cycles) on a writer thread of its own,
/// so that the capture loop never waits for iptables, nft or a CMD_CYCLE command.
template <class Firewalls>
using daemon_firewall = knock::firewall::async<with_command_cycles<Firewalls>>;

/// The replay store and the log (with its metrics) are shared by the workers (KNOCK_WORKERS),
/// each behind a mutex.
template <class Firewalls, class Store>
using daemon_server =
    knock::server<server_cipher, knock::mac::any_hmac, daemon_firewall<Firewalls>,
                  locked_store<Store>,
                  locked_observer<knock::observe::with_metrics<knock::observe::log_lines>>>;

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

/// Serves packets from `capture` (and accepts connections on `tcp` and `metrics`, when set) until
/// a stop signal, with a worker thread for each of `more` (KNOCK_WORKERS); the exit status.
template <class Server, class Capture>
int serve(Server& server, Capture& capture, std::span<Capture> more, tcp_server* tcp,
          metrics_listener* metrics, config_reader* reader, const settings& s, const options& o,
          const logger& log) {
  auto loop = event_loop::open(capture.fds());
  if (!loop) return log(LOG_ERR, to_string(loop.error())), 1;
  if (tcp != nullptr && !loop->watch(tcp->fd()))
    return log(LOG_ERR, "epoll: the TCP server's socket: " + std::string{std::strerror(errno)}), 1;
  if (metrics != nullptr && !loop->watch(metrics->fd()))
    return log(LOG_ERR, "epoll: the metrics socket: " + std::string{std::strerror(errno)}), 1;
  // The reader's socket is polled between reloads: readable there, the reader is gone.
  if (reader != nullptr && reader->alive() && !loop->watch(reader->fd()))
    return log(LOG_ERR,
               "epoll: the configuration reader's socket: " + std::string{std::strerror(errno)}),
           1;
  const auto reader_event = [&] {
    const int fd = reader->fd();
    if (auto line = reader->check()) loop->unwatch(fd), log(LOG_ERR, *line);
  };
  if (!loop->watch(server.firewall().answers_fd()))
    return log(LOG_ERR,
               "epoll: the firewall writer's eventfd: " + std::string{std::strerror(errno)}),
           1;
  std::size_t repairs_logged = server.firewall().repairs();
  const auto log_repairs = [&] {  // rules remade after they were deleted or damaged under us
    if (const std::size_t n = server.firewall().repairs(); n != repairs_logged)
      log(LOG_WARNING, "firewall " + s.firewall +
                           ": its rules were missing or damaged (changed under the daemon): "
                           "remade them (" +
                           std::to_string(repairs_logged = n) + " time(s) so far)");
  };
  // Metrics (KNOCK_METRICS_LISTEN, KNOCK_METRICS_FILE): the observer counts every verdict; the
  // decode time is read only when someone looks.
  const bool timed = metrics != nullptr || !s.metrics_file.empty();
  const double started = static_cast<double>(knock::now_seconds());
  const auto render_metrics = [&] {
    knock::observe::metrics_context ctx;
    ctx.replay_entries = server.replay_store().size();
    if constexpr (knock::counting_capture<Capture>) {  // every worker's capture, summed
      ctx.capture = capture.stats();
      for (const Capture& c : more) {
        const auto more_stats = c.stats();
        ctx.capture->received += more_stats.received;
        ctx.capture->delivered += more_stats.delivered;
        ctx.capture->dropped += more_stats.dropped;
        ctx.capture->ifdropped += more_stats.ifdropped;
        ctx.capture->fragments += more_stats.fragments;
        ctx.capture->malformed += more_stats.malformed;
        ctx.capture->ignored += more_stats.ignored;
      }
    }
    ctx.start_time = started;
    ctx.version = version;
    std::string text;
    server.observer().locked(
        [&](auto& observer) { knock::observe::write_metrics(text, observer.table(), ctx); });
    return text;
  };
  bool metrics_file_failing = false;
  const auto write_metrics_file = [&] {
    const auto failed = write_atomically(s.metrics_file, render_metrics());
    if (failed && !metrics_file_failing) log(LOG_ERR, "KNOCK_METRICS_FILE: " + *failed);
    if (!failed && metrics_file_failing) log(LOG_NOTICE, "KNOCK_METRICS_FILE: written again");
    metrics_file_failing = failed.has_value();
  };
  replay_store_watch store_watch;  // KNOCK_REPLAY_REDIS: down / back, once a second at most
  std::atomic<std::uint64_t> candidates = 0;  // -C: fwknopd's --packet-limit counts every packet
  std::atomic<bool> limit_reached = false;
  std::shared_mutex rules_lock;  // workers decide under it shared; a reload replaces the rules
  // One per worker: ENABLE_SPA_OVER_HTTP's buffer (the packet out of a request) is its own, and
  // so is its count of datagrams (logged at the end: how the kernel spread them).
  std::vector<std::uint64_t> decided(more.size() + 1, 0);
  const auto make_on_datagram = [&](std::uint64_t& count) {
    return [&, http_packet = std::array<char, 1500>{}](const knock::datagram& captured) mutable {
      ++count;
      if (o.packet_limit && ++candidates >= *o.packet_limit) limit_reached = true;
      knock::datagram d = captured;
      if (s.spa_over_http && knock::codec::is_http_request(d.payload)) {
        const auto http = knock::codec::spa_from_http(d.payload, http_packet,
                                                      s.allow_any_user_agent, s.x_forwarded_for);
        if (http.spa) {
          d.payload = http.spa->packet;
          if (http.spa->forwarded) d.source = *http.spa->forwarded;
        } else if (s.verbose) {  // refused below as what it is, a payload that is not base64
          log(LOG_DEBUG, "packet from " + to_string(d.source) + ": an HTTP request " +
                             (*http.refused == knock::codec::http_refusal::too_short
                                  ? "whose path is shorter than an SPA packet"
                                  : "without 'User-Agent: Fwknop' (ALLOW_ANY_USER_AGENT N)"));
        }
      }
      const std::uint64_t t0 = timed ? knock::observe::decode_clock::now() : 0;
      const knock::verdict v = server.handle(d, knock::now_seconds());
      if (timed)
        server.observer().locked([&](auto& observer) {
          observer.table().decode.record(knock::observe::decode_clock::now() - t0);
        });
      if (v.accepted && !v.pending && v.message && v.message->type == knock::message_type::command)
        run_command(server.rules().stanzas[*v.stanza - 1], *v.message, s.sudo_exe, log);
    };
  };
  auto on_datagram = make_on_datagram(decided[0]);
  // What a capture has ready (a ring block, a recvmmsg batch), decided; the grants of the batch
  // wake the firewall writer once, at its end (a wake-up per grant cost a futex call and two
  // context switches a packet).
  // A durable replay log (the digest file) is written and synced once for the batch, before its
  // grants leave the writer's staging (they are refused if that fails). The batch's packet lines
  // are written then too, with one `write` (log.flush_packets).
  using store_type = typename Server::replay_type;
  std::atomic<bool> replay_log_failing = false;
  const auto receive_batch = [&](Capture& c, auto& on) {
    auto got = [&] {
      auto batch = server.firewall().hold();
      if constexpr (knock::commit_batching_store<store_type>) {
        server.replay_store().begin_batch();
        auto received = c.receive(on);
        auto ok = server.replay_store().end_batch();
        if (!ok) {
          batch.cancel(ok.error());
          server.observer().locked([](auto& observer) { ++observer.table().replay_errors; });
        }
        if (!ok != replay_log_failing.exchange(!ok))
          log(ok ? LOG_NOTICE : LOG_ERR, ok ? std::string{"replay log: written again"}
                                            : "replay log: " + to_string(ok.error()) +
                                                  " (the packets accepted meanwhile are refused)");
        return received;
      } else {
        return c.receive(on);
      }
    }();
    log.flush_packets();
    return got;
  };
  // The firewall writer's answers: each pending grant's packet is logged now (accepted, or
  // refused with the firewall's reason), and an expiry that failed is reported.
  const auto firewall_answers = [&] {
    server.firewall().drain([&](knock::firewall::answer a) {
      if (a.what == knock::firewall::answer::kind::grant)
        server.settle(std::move(a.request), a.outcome);
      else if (!a.outcome)
        log(LOG_WARNING, "firewall: expiry or check failed: " + to_string(a.outcome.error()));
    });
    log_repairs();  // grants and checks repair
  };
  const auto reload = [&] {
    // After the privilege drop the reader reads the files (the worker may not be able to).
    std::optional<reader::snapshot> read;
    if (reader != nullptr) {
      auto got = reader->fetch();
      if (!got)
        return log(LOG_ERR, "reload refused, keeping the old rules: " + to_string(got.error()));
      read.emplace(*std::move(got));
    }
    auto access = read ? load_access(s, o, read->files()) : load_access(s, o);
    if (read) read->wipe();
    if (!access)
      return log(LOG_ERR, "reload refused, keeping the old rules: " + to_string(access.error()));
    for (const auto& w : access->warnings()) log(LOG_WARNING, w);
    auto* stanzas = &access->stanzas;
    if (!more.empty() && uses_gnupg(*stanzas))
      return log(LOG_ERR,
                 "reload refused, keeping the old rules: a stanza decrypts with GnuPG, "
                 "which one worker at a time may use, and KNOCK_WORKERS runs " +
                     std::to_string(more.size() + 1));
    auto cycles = make_command_cycles(*stanzas);
    if (!cycles)
      return log(LOG_ERR, "reload refused, keeping the old rules: " + to_string(cycles.error()));
    const std::size_t count = stanzas->size();
    server.firewall().call([&](auto& f) { f.set_cycles(*std::move(cycles)); });
    {
      std::unique_lock lock{rules_lock};  // the workers are between two batches of packets
      server.replace_rules({std::move(*stanzas), s.server});
    }
    server.observer().locked([&](auto& observer) { observer.table().stanzas(count); });
    log(LOG_NOTICE, "reloaded " + (s.access_folder.empty() ? s.access_file : s.access_folder) +
                        ": " + std::to_string(count) + " stanza(s)");
  };
  // EXIT_AT_INTF_DOWN: Y (fwknopd's default) ends the daemon when the capture fails (libpcap
  // reports an interface that disappears; one merely set down is read again when it is up), for
  // its supervisor to restart it; N logs the failure once, stops polling the capture and opens it
  // again at every tick until that works (an interface removed and made again is read again).
  bool capture_down = false;
  const auto capture_failed = [&](const knock::error& e) {
    if (s.exit_at_intf_down)
      return log(LOG_ERR, "capture failed: " + to_string(e) + " (EXIT_AT_INTF_DOWN Y: exiting)"),
             false;
    if (!capture_down)
      log(LOG_ERR,
          "capture failed: " + to_string(e) + " (EXIT_AT_INTF_DOWN N: trying it every second)");
    capture_down = true;
    for (int fd : capture.fds()) loop->unwatch(fd);
    return true;
  };
  const auto tick = [&] {
    if (tcp != nullptr) tcp->close_old();
    if (metrics != nullptr) metrics->close_old();
    if (capture_down) {
      if constexpr (std::is_move_assignable_v<Capture>) {
        if (auto fresh = Capture::make(s.capture, {s.conf}); fresh) {
          capture = *std::move(fresh);  // the old descriptors close, and leave the epoll set
          for (int fd : capture.fds()) loop->watch(fd);
          capture_down = false;
          log(LOG_NOTICE, "capture: open again (" + capture.describe() + ")");
        }
      } else {  // a capture that cannot be replaced is polled again
        for (int fd : capture.fds()) loop->watch(fd);
        capture_down = false;
      }
    }
    server.observer().tick();  // a flood's last summary of suppressed refusals, on time
    if constexpr (knock::durable_replay_store<typename Server::replay_type>)  // refusals' keys
      if (auto ok = server.replay_store().commit(); !ok)
        server.observer().locked([](auto& observer) { ++observer.table().replay_errors; }),
            log(LOG_ERR, "replay log: " + to_string(ok.error()));
    server.replay_store().with_lock([&](const auto& store) { store_watch.tick(store, log); });
    server.firewall().expire_later(knock::now_seconds());  // answered through the writer's eventfd
    log_repairs();
    if (!s.metrics_file.empty()) write_metrics_file();
  };

  log(LOG_NOTICE,
      "started: " + std::to_string(server.rules().stanzas.size()) + " stanza(s), firewall " +
          s.firewall + ", capture " + s.capture + " (" + capture.describe() + ")" +
          (more.empty()
               ? std::string{}
               : ", " + std::to_string(more.size() + 1) + " workers (PACKET_FANOUT by flow hash)") +
          (tcp != nullptr ? ", TCP server on port " + std::to_string(*s.tcp_server_port)
                          : std::string{}) +
          (metrics != nullptr ? ", metrics on " + s.conf.text("KNOCK_METRICS_LISTEN")
                              : std::string{}));
  const auto packet_limit_reached = [&] {
    const bool reached = limit_reached.load();
    if (reached)
      log(LOG_NOTICE, "packet limit reached (-C " + std::to_string(*o.packet_limit) + "): exiting");
    return reached;
  };
  // A source with nothing to poll (a pcap file, --pcap-file) is read once, now; the daemon then
  // runs on (expiring its grants) until a stop signal, as fwknopd does.
  if (capture.fds().empty())
    if (auto got = receive_batch(capture, on_datagram); !got)
      return log(LOG_ERR, "capture failed: " + to_string(got.error())), 1;
  if (packet_limit_reached()) return 0;

  // KNOCK_WORKERS: a thread for each further capture, stopped (stop_workers) and joined when the
  // loop ends; one that stops by itself (its capture failed, -C reached) says so on worker_note.
  const unique_fd stop_workers{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
  const unique_fd worker_note{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
  std::mutex notes_m;
  std::vector<std::string> notes;  // what the workers that stopped said
  std::vector<std::thread> workers;
  struct joiner {
    const unique_fd& stop_fd;
    std::vector<std::thread>& threads;
    void stop() noexcept {
      const std::uint64_t one = 1;
      if (!threads.empty()) (void)!::write(stop_fd.get(), &one, sizeof one);
      for (auto& t : threads) t.join();
      threads.clear();
    }
    ~joiner() { stop(); }
  } join_workers{stop_workers, workers};
  if (!more.empty()) {
    if (!stop_workers || !worker_note || !loop->watch(worker_note.get()))
      return log(LOG_ERR, "workers: " + std::string{std::strerror(errno)}), 1;
    for (std::size_t i = 0; i < more.size(); ++i)
      workers.emplace_back([&, i] {  // signals stay blocked: the loop blocked them before
        auto on = make_on_datagram(decided[i + 1]);
        Capture& c = more[i];
        worker_loop(c.fds(), stop_workers.get(), [&] {
          std::optional<std::string> failed;
          {
            std::shared_lock lock{rules_lock};
            if (auto got = receive_batch(c, on); !got) failed = to_string(got.error());
          }
          if (!failed && !limit_reached) return true;
          if (failed) {
            std::lock_guard lock{notes_m};
            notes.push_back("worker " + std::to_string(i + 1) + ": capture failed: " + *failed);
          }
          const std::uint64_t one = 1;
          (void)!::write(worker_note.get(), &one, sizeof one);
          return false;
        });
      });
  }
  const auto worker_stopped = [&] {
    std::uint64_t n = 0;
    (void)!::read(worker_note.get(), &n, sizeof n);
    std::vector<std::string> said;
    {
      std::lock_guard lock{notes_m};
      said.swap(notes);
    }
    for (const auto& line : said)
      log(LOG_ERR, line + (s.exit_at_intf_down ? " (EXIT_AT_INTF_DOWN Y: exiting)"
                                               : " (the other workers go on)"));
    if (!said.empty() && s.exit_at_intf_down) return false;
    return !packet_limit_reached();
  };

  const auto dispatch = [&](wake w, int fd) {
    switch (w) {
      case wake::input:
        if (tcp != nullptr && fd == tcp->fd()) return tcp->accept_pending(), true;
        if (reader != nullptr && fd == reader->fd()) return reader_event(), true;
        if (fd == server.firewall().answers_fd()) return firewall_answers(), true;
        if (fd == worker_note.get()) return worker_stopped();
        if (metrics != nullptr && metrics->owns(fd))
          return metrics->ready(fd, *loop, render_metrics), true;
        if (auto got = receive_batch(capture, on_datagram); !got)
          return capture_failed(got.error());
        return !packet_limit_reached();
      case wake::tick: return tick(), true;
      case wake::reload: return reload(), true;
      case wake::stop: return false;
    }
    return true;
  };
  const int status = loop->run(
      [&](wake w, int fd) {
        const bool go_on = dispatch(w, fd);
        log.flush_packets();  // the packet lines of what was just done (answers, a tick)
        return go_on;
      },
      log);
  join_workers.stop();  // no packet is decided from here on
  if (!more.empty()) {
    std::string counts;
    for (const std::uint64_t n : decided)
      counts += (counts.empty() ? "" : ", ") + std::to_string(n);
    log(LOG_NOTICE, "workers: datagrams decided by each: " + counts);
  }
  // The grants still queued are applied (and logged), then nftables leaves its table (the ports
  // stay closed, grants expire in the kernel); iptables removes its rules when FLUSH_IPT_AT_EXIT
  // says so.
  server.firewall().finish();
  firewall_answers();
  log.flush_packets();
  if (auto ok = server.firewall().call([](auto& f) { return f.backend().stop(); }); !ok)
    log(LOG_WARNING, "firewall: stopping: " + to_string(ok.error()));
  return status;
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
  auto capture = Captures::make(s.capture, {s.conf});
  if (!capture) return failed(capture.error());
  // KNOCK_WORKERS: a capture for each further worker (opened now, as root), all in one fanout
  // group, so the kernel gives each packet to one of them.
  std::vector<Captures> more;
  std::string workers_note;
  if (s.workers > 1 && (capture->fds().empty() || s.capture != "pcap")) {
    workers_note = "KNOCK_WORKERS " + std::to_string(s.workers) +
                   ": one worker only: more need KNOCK_CAPTURE pcap on a live interface";
  } else if (s.workers > 1 && uses_gnupg(*stanzas)) {
    workers_note = "KNOCK_WORKERS " + std::to_string(s.workers) +
                   ": one worker only: a stanza decrypts with GnuPG, whose contexts one thread "
                   "at a time may use";
  } else if (s.workers > 1) {
    for (unsigned i = 1; i < s.workers; ++i) {
      auto c = Captures::make(s.capture, {s.conf});
      if (!c) return failed(c.error());
      more.push_back(*std::move(c));
    }
    const auto group = static_cast<std::uint16_t>(::getpid());
    if (auto ok = join_fanout(capture->fds(), group); !ok) return failed(ok.error());
    for (auto& c : more)
      if (auto ok = join_fanout(c.fds(), group); !ok) return failed(ok.error());
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
  // the daemon kept and no others (they are per thread).
  auto writer = daemon_firewall<Firewalls>::start(std::move(firewall));
  if (!writer) return log(LOG_ERR, to_string(writer.error())), 1;
  typename daemon_server<Firewalls, knock::replay::memory_store>::rules_type rules{
      std::move(*stanzas), s.server};
#if KNOCK_SERVER_REDIS
  if (s.redis) {  // shared with the other gateways; replaces the replay log
    daemon_server<Firewalls, knock::replay::redis_store> server{
        std::move(rules), locked_store{open_redis_store(*s.redis, s.replay_keys(), log)},
        *std::move(writer), locked_observer{lines()}};
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
