// SPDX-License-Identifier: MIT
#pragma once
// The daemon's event loop: `serve` decides the packets of the capture (and of the workers'
// captures, KNOCK_WORKERS), logs the firewall writer's answers, reloads on SIGHUP, ticks once a
// second (expiries, the capture reopened, metrics file, the replay store's health), and ends on
// a stop signal. `daemon_loop` holds what the loop shares; each of its methods is one thing the
// loop does:
//
//   on a capture's input   receive_batch: a batch of datagrams through packet_path, then the
//                          batch's replay log sync (or its Redis round trip), its grants
//                          released, its lines written
//   on the writer's fd     firewall_answers: each grant's packet logged (server::settle)
//   on SIGHUP              reload: access.conf read again (by the reader), rules replaced
//   every second           tick
//   on a worker's note     worker_stopped: a worker whose capture failed, or -C reached
//
// The packets' side (packet_path, receive_batch, the workers) is defined in serve_packets.hpp.

#include "access.hpp"
#include "command_exec.hpp"
#include "config_reader.hpp"
#include "cycles.hpp"
#include "event_loop.hpp"
#include "log.hpp"
#include "metrics_listener.hpp"
#include "options.hpp"
#include "replay_redis.hpp"
#include "settings.hpp"
#include "tcp_server.hpp"
#include "workers.hpp"

#include <knock/codec/http.hpp>
#include <knock/core/time.hpp>
#include <knock/firewall/async.hpp>
#include <knock/observe/metrics.hpp>
#include <knock/replay/concept.hpp>
#include <knock/server.hpp>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace knock_server {

inline constexpr const char* version = "0.1.0";

template <class Server, class Capture>
class daemon_loop {
 public:
  daemon_loop(Server& server, Capture& capture, std::span<Capture> more, tcp_server* tcp,
              metrics_listener* metrics, config_reader* reader, const settings& s, const options& o,
              const logger& log)
      : server_{server},
        capture_{capture},
        more_{more},
        tcp_{tcp},
        metrics_{metrics},
        reader_{reader},
        s_{s},
        o_{o},
        log_{log},
        timed_{metrics != nullptr || !s.metrics_file.empty()},
        decided_(more.size() + 1, 0),
        repairs_logged_{server.firewall().repairs()} {}

  /// Runs until a stop signal (or the capture fails with EXIT_AT_INTF_DOWN Y, or -C is
  /// reached); the exit status.
  int run() {
    auto opened = event_loop::open(capture_.fds());
    if (!opened) return log_(LOG_ERR, to_string(opened.error())), 1;
    loop_.emplace(*std::move(opened));
    if (auto failed = watch_sources()) return log_(LOG_ERR, *failed), 1;
    log_(LOG_NOTICE, started_line());

    // A source with nothing to poll (a pcap file, --pcap-file) is read through now; the daemon
    // then runs on (expiring its grants) until a stop signal, as fwknopd does — unless -C was
    // reached, which ends it as in the loop: the grants still queued applied and logged.
    packet_path main_path{*this, decided_[0]};
    if (capture_.fds().empty())
      if (auto failed = read_savefile(main_path)) return log_(LOG_ERR, *failed), 1;

    int status = 0;
    if (!packet_limit_reached()) {
      if (!more_.empty() && !start_workers()) return 1;
      status = loop_->run(
          [&](wake w, int fd) {
            const bool go_on = dispatch(w, fd, main_path);
            log_.flush_packets();  // the packet lines of what was just done (answers, a tick)
            return go_on;
          },
          log_);
    }
    workers_.stop();  // no packet is decided from here on
    if (!more_.empty()) {
      std::string counts;
      for (const std::uint64_t n : decided_)
        counts += (counts.empty() ? "" : ", ") + std::to_string(n);
      log_(LOG_NOTICE, "workers: datagrams decided by each: " + counts);
    }
    // The grants still queued are applied (and logged), then nftables leaves its table (the
    // ports stay closed, grants expire in the kernel); iptables removes its rules when
    // FLUSH_IPT_AT_EXIT says so.
    server_.firewall().finish();
    firewall_answers();
    log_.flush_packets();
    if (auto ok = server_.firewall().call([](auto& f) { return f.backend().stop(); }); !ok)
      log_(LOG_WARNING, "firewall: stopping: " + to_string(ok.error()));
    return status;
  }

 private:
  using store_type = typename Server::replay_type;

  // ---- packets (serve_packets.hpp) -----------------------------------------------------------

  class packet_path;  // what one thread does with each captured datagram
  // A capture's ready datagrams, decided as one batch (its grants, replay log and lines at once).
  knock::result<std::size_t> receive_batch(Capture& c, packet_path& on);
  static void let_the_next_batch_gather(std::size_t got);
  // A savefile read through, a batch at a time; why it failed, or nothing.
  std::optional<std::string> read_savefile(packet_path& main_path);
  template <class Held>
  void settle_pipeline(Held& batch, bool listed, std::vector<knock::replay_refusal>& refused);
  bool packet_limit_reached();

  // ---- the loop's events --------------------------------------------------------------------

  bool dispatch(wake w, int fd, packet_path& main_path) {
    switch (w) {
      case wake::input:
        if (tcp_ != nullptr && fd == tcp_->fd()) return tcp_->accept_pending(), true;
        if (reader_ != nullptr && fd == reader_->fd()) return reader_event(), true;
        if (fd == server_.firewall().answers_fd()) return firewall_answers(), true;
        if (fd == workers_.note_fd()) return worker_stopped();
        if (metrics_ != nullptr && metrics_->owns(fd))
          return metrics_->ready(fd, *loop_, [&] { return render_metrics(); }), true;
        if (auto got = receive_batch(capture_, main_path); !got)
          return capture_failed(got.error());
        else if (!packet_limit_reached())
          return let_the_next_batch_gather(*got), true;
        return false;
      case wake::tick: return tick(), true;
      case wake::reload: return reload(), true;
      case wake::stop: return false;
    }
    return true;
  }

  // What the loop polls besides the capture; why one cannot be polled.
  std::optional<std::string> watch_sources() {
    const auto cannot = [](const char* what) {
      return std::optional<std::string>{std::string{"epoll: "} + what + ": " +
                                        std::strerror(errno)};
    };
    if (tcp_ != nullptr && !loop_->watch(tcp_->fd())) return cannot("the TCP server's socket");
    if (metrics_ != nullptr && !loop_->watch(metrics_->fd())) return cannot("the metrics socket");
    // The reader's socket is polled between reloads: readable there, the reader is gone.
    if (reader_ != nullptr && reader_->alive() && !loop_->watch(reader_->fd()))
      return cannot("the configuration reader's socket");
    if (!loop_->watch(server_.firewall().answers_fd()))
      return cannot("the firewall writer's eventfd");
    return std::nullopt;
  }

  std::string started_line() const {
    return "started: " + std::to_string(server_.rules().stanzas.size()) + " stanza(s), firewall " +
           s_.firewall + ", capture " + s_.capture + " (" + capture_.describe() + ")" +
           (more_.empty() ? std::string{}
                          : ", " + std::to_string(more_.size() + 1) + " workers (" +
                                std::string{to_string(capture_.shared_by())} + " by flow hash)") +
           (tcp_ != nullptr ? ", TCP server on port " + std::to_string(*s_.tcp_server_port)
                            : std::string{}) +
           (metrics_ != nullptr ? ", metrics on " + s_.conf.text("KNOCK_METRICS_LISTEN")
                                : std::string{});
  }

  void reader_event() {
    const int fd = reader_->fd();
    if (auto line = reader_->check()) loop_->unwatch(fd), log_(LOG_ERR, *line);
  }

  // The firewall writer's answers: each pending grant's packet is logged now (accepted, or
  // refused with the firewall's reason), and an expiry that failed is reported.
  void firewall_answers() {
    server_.firewall().drain([&](knock::firewall::answer a) {
      if (a.what == knock::firewall::answer::kind::grant)
        server_.settle(std::move(a.request), a.outcome);
      else if (!a.outcome)
        log_(LOG_WARNING, "firewall: expiry or check failed: " + to_string(a.outcome.error()));
    });
    log_repairs();  // grants and checks repair
  }

  // Rules remade after they were deleted or damaged under the daemon.
  void log_repairs() {
    if (const std::size_t n = server_.firewall().repairs(); n != repairs_logged_)
      log_(LOG_WARNING, "firewall " + s_.firewall +
                            ": its rules were missing or damaged (changed under the daemon): "
                            "remade them (" +
                            std::to_string(repairs_logged_ = n) + " time(s) so far)");
  }

  void reload() {
    const auto refused = [&](const std::string& why) {
      log_(LOG_ERR, "reload refused, keeping the old rules: " + why);
    };
    // After the privilege drop the reader reads the files (the worker may not be able to).
    std::optional<reader::snapshot> read;
    if (reader_ != nullptr) {
      auto got = reader_->fetch();
      if (!got) return refused(to_string(got.error()));
      read.emplace(*std::move(got));
    }
    auto access = read ? load_access(s_, o_, read->files()) : load_access(s_, o_);
    if (read) read->wipe();
    if (!access) return refused(to_string(access.error()));
    for (const auto& w : access->warnings()) log_(LOG_WARNING, w);
    auto& stanzas = access->stanzas;
    if (!more_.empty() && uses_gnupg(stanzas))
      return refused(
          "a stanza decrypts with GnuPG, which one worker at a time may use, and KNOCK_WORKERS "
          "runs " +
          std::to_string(more_.size() + 1));
    auto cycles = make_command_cycles(stanzas);
    if (!cycles) return refused(to_string(cycles.error()));
    const std::size_t count = stanzas.size();
    server_.firewall().call([&](auto& f) { f.set_cycles(*std::move(cycles)); });
    {
      std::unique_lock lock{rules_lock_};  // the workers are between two batches of packets
      server_.replace_rules({std::move(stanzas), s_.server});
    }
    server_.observer().locked([&](auto& observer) { observer.table().stanzas(count); });
    log_(LOG_NOTICE, "reloaded " + (s_.access_folder.empty() ? s_.access_file : s_.access_folder) +
                         ": " + std::to_string(count) + " stanza(s)");
  }

  // EXIT_AT_INTF_DOWN: Y (fwknopd's default) ends the daemon when the capture fails (libpcap
  // reports an interface that disappears; one merely set down is read again when it is up), for
  // its supervisor to restart it; N logs the failure once, stops polling the capture and opens it
  // again at every tick until that works (an interface removed and made again is read again).
  bool capture_failed(const knock::error& e) {
    if (s_.exit_at_intf_down)
      return log_(LOG_ERR, "capture failed: " + to_string(e) + " (EXIT_AT_INTF_DOWN Y: exiting)"),
             false;
    if (!capture_down_)
      log_(LOG_ERR,
           "capture failed: " + to_string(e) + " (EXIT_AT_INTF_DOWN N: trying it every second)");
    capture_down_ = true;
    for (int fd : capture_.fds()) loop_->unwatch(fd);
    return true;
  }

  void reopen_capture() {
    if constexpr (std::is_move_assignable_v<Capture>) {
      if (auto fresh = Capture::make(s_.capture, {s_.conf}); fresh) {
        capture_ = *std::move(fresh);  // the old descriptors close, and leave the epoll set
        for (int fd : capture_.fds()) loop_->watch(fd);
        capture_down_ = false;
        log_(LOG_NOTICE, "capture: open again (" + capture_.describe() + ")");
      }
    } else {  // a capture that cannot be replaced is polled again
      for (int fd : capture_.fds()) loop_->watch(fd);
      capture_down_ = false;
    }
  }

  void tick() {
    if (tcp_ != nullptr) tcp_->close_old();
    if (metrics_ != nullptr) metrics_->close_old();
    if (capture_down_) reopen_capture();
    server_.observer().tick();  // a flood's last summary of suppressed refusals, on time
    if constexpr (knock::durable_replay_store<store_type>)  // refusals' keys
      if (auto ok = server_.replay_store().commit(); !ok)
        server_.observer().locked([](auto& observer) { ++observer.table().replay_errors; }),
            log_(LOG_ERR, "replay log: " + to_string(ok.error()));
    server_.replay_store().with_lock([&](const auto& store) { store_watch_.tick(store, log_); });
    server_.firewall().expire_later(knock::now_seconds());  // answered through the writer's fd
    log_repairs();
    if (!s_.metrics_file.empty()) write_metrics_file();
  }

  // ---- metrics (KNOCK_METRICS_LISTEN, KNOCK_METRICS_FILE) -----------------------------------

  // The observer counts every verdict; the captures' counts are read when someone looks.
  std::string render_metrics() const {
    knock::observe::metrics_context ctx;
    ctx.replay_entries = server_.replay_store().size();
    if constexpr (knock::counting_capture<Capture>) {  // every worker's capture, summed
      ctx.capture = capture_.stats();
      for (const Capture& c : more_) *ctx.capture += c.stats();
    }
    ctx.start_time = started_;
    ctx.version = version;
    std::string text;
    server_.observer().locked(
        [&](auto& observer) { knock::observe::write_metrics(text, observer.table(), ctx); });
    return text;
  }

  void write_metrics_file() {
    const auto failed = write_atomically(s_.metrics_file, render_metrics());
    if (failed && !metrics_file_failing_) log_(LOG_ERR, "KNOCK_METRICS_FILE: " + *failed);
    if (!failed && metrics_file_failing_) log_(LOG_NOTICE, "KNOCK_METRICS_FILE: written again");
    metrics_file_failing_ = failed.has_value();
  }

  // ---- workers (KNOCK_WORKERS; serve_packets.hpp) -----------------------------------------------

  bool start_workers();
  bool worker_stopped();

  Server& server_;
  Capture& capture_;
  std::span<Capture> more_;
  tcp_server* tcp_;
  metrics_listener* metrics_;
  config_reader* reader_;
  const settings& s_;
  const options& o_;
  const logger& log_;

  std::optional<event_loop> loop_;
  const bool timed_;  // decode times recorded: someone reads the metrics
  const double started_ = static_cast<double>(knock::now_seconds());
  std::vector<std::uint64_t> decided_;         // datagrams each thread decided
  std::atomic<std::uint64_t> candidates_ = 0;  // -C: fwknopd's --packet-limit counts every packet
  std::atomic<bool> limit_reached_ = false;
  std::shared_mutex rules_lock_;  // workers decide under it shared; a reload replaces the rules
  std::atomic<bool> replay_log_failing_ = false;
  std::size_t repairs_logged_;
  bool capture_down_ = false;
  bool metrics_file_failing_ = false;
  replay_store_watch store_watch_;  // KNOCK_REPLAY_REDIS: down / back, once a second at most
  worker_pool workers_;             // declared last: stopped (joined) before the rest goes
};

/// Serves packets from `capture` (and accepts connections on `tcp` and `metrics`, when set) until
/// a stop signal, with a worker thread for each of `more` (KNOCK_WORKERS); the exit status.
template <class Server, class Capture>
int serve(Server& server, Capture& capture, std::span<Capture> more, tcp_server* tcp,
          metrics_listener* metrics, config_reader* reader, const settings& s, const options& o,
          const logger& log) {
  daemon_loop<Server, Capture> loop{server, capture, more, tcp, metrics, reader, s, o, log};
  return loop.run();
}

}  // namespace knock_server

#include "serve_packets.hpp"
