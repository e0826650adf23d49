// SPDX-License-Identifier: MIT
#pragma once
// The packets' side of the daemon loop (serve.hpp): what one thread does with each datagram
// (packet_path), a capture's batch (receive_batch: its grants, replay log and lines at once, or
// its Redis round trip), a savefile read through a batch at a time (read_savefile), and the
// worker threads that run further captures (KNOCK_WORKERS).
// Member definitions of `daemon_loop`, included at the end of serve.hpp.

#include "serve.hpp"

#include <poll.h>

#include <chrono>
#include <thread>

namespace knock_server {

// After a small batch from a live capture, the thread that read it lets the next one gather for
// half a millisecond before it polls again. In a stream of packets the next batch is then larger,
// and what each batch costs (the poll, the replay log's write and sync, the log's write, the
// answers' wake-up) is shared by more packets: a burst of 20,000 at 200,000/s came in ~2,300
// batches of ~9 (from a ring, each frame is ready as soon as it is written) and cost 5-15 % more
// CPU a packet than in batches of ~60 (docs/PERFORMANCE.md, round five). A lone packet is decided
// at once: the wait comes after it, and delays only the packets behind it, by 0.5 ms at most.
// (fwknopd sleeps 100 ms between its reads.) A savefile is read without it.
inline constexpr std::size_t small_batch = 32;
inline constexpr std::chrono::microseconds gathering_time{500};
template <class Server, class Capture>
void daemon_loop<Server, Capture>::let_the_next_batch_gather(std::size_t got) {
  if (got != 0 && got < small_batch) std::this_thread::sleep_for(gathering_time);
}

// What one thread does with each captured datagram: SPA over HTTP unwrapped (with a buffer of
// its own), decided, timed for the metrics, a command run. One per worker; `count` is its
// share of the datagrams (logged at the end: how the kernel spread them).
template <class Server, class Capture>
class daemon_loop<Server, Capture>::packet_path {
 public:
  packet_path(daemon_loop& d, std::uint64_t& count) noexcept : d_{d}, count_{count} {}
  void operator()(const knock::datagram& captured) {
    if (d_.o_.packet_limit) {  // -C N: the Nth datagram is the last decided, as fwknopd's
      const std::uint64_t n = ++d_.candidates_;
      if (n > *d_.o_.packet_limit) return;
      if (n == *d_.o_.packet_limit) d_.limit_reached_ = true;
    }
    ++count_;
    knock::datagram d = captured;
    if (d_.s_.spa_over_http && knock::codec::is_http_request(d.payload)) unwrap_http(d);
    const std::uint64_t t0 = d_.timed_ ? knock::observe::decode_clock::now() : 0;
    const knock::verdict v = d_.server_.handle(d, knock::now_seconds());
    if (d_.timed_)
      d_.server_.observer().locked([&](auto& observer) {
        observer.table().decode.record(knock::observe::decode_clock::now() - t0);
      });
    if (v.accepted && !v.pending && v.message && v.message->type == knock::message_type::command)
      run_command(d_.server_.rules().stanzas[*v.stanza - 1], *v.message, d_.s_.sudo_exe, d_.log_);
  }

  /// The tickets of this thread's pipeline that its store refused (reused batch to batch).
  std::vector<knock::replay_refusal>& refused() noexcept { return refused_; }

 private:
  void unwrap_http(knock::datagram& d) {
    const auto http = knock::codec::spa_from_http(
        d.payload, http_packet_, d_.s_.allow_any_user_agent, d_.s_.x_forwarded_for);
    if (http.spa) {
      d.payload = http.spa->packet;
      if (http.spa->forwarded) d.source = *http.spa->forwarded;
    } else if (d_.s_.verbose) {  // refused as what it is, a payload that is not base64
      d_.log_(LOG_DEBUG, "packet from " + to_string(d.source) + ": an HTTP request " +
                             (*http.refused == knock::codec::http_refusal::too_short
                                  ? "whose path is shorter than an SPA packet"
                                  : "without 'User-Agent: Fwknop' (ALLOW_ANY_USER_AGENT N)"));
    }
  }

  daemon_loop& d_;
  std::uint64_t& count_;
  std::array<char, 1500> http_packet_{};
  std::vector<knock::replay_refusal> refused_;
};

// What a capture has ready (a ring block, a recvmmsg batch), decided as one batch:
// - its grants wait in the firewall writer's staging until the batch ends, then wake the
//   writer once (a wake-up per grant cost a futex call and two context switches a packet);
// - a durable replay log (the digest file) is written and synced once for the batch, before
//   the grants leave the staging; they are refused (io_failed) if that fails;
// - the batch's packet lines go out with one `write`.
template <class Server, class Capture>
knock::result<std::size_t> daemon_loop<Server, Capture>::receive_batch(Capture& c,
                                                                       packet_path& on) {
  auto got = [&] {
    auto batch = server_.firewall().hold();
    if constexpr (knock::commit_batching_store<store_type>) {
      const auto mark = server_.replay_store().begin_batch();
      auto received = c.receive(on);
      const auto ok = server_.replay_store().end_batch(mark);
      if (!ok) {
        batch.cancel(ok.error());
        server_.observer().locked([](auto& observer) { ++observer.table().replay_errors; });
      }
      if (!ok != replay_log_failing_.exchange(!ok))
        log_(ok ? LOG_NOTICE : LOG_ERR, ok ? std::string{"replay log: written again"}
                                           : "replay log: " + to_string(ok.error()) +
                                                 " (the packets accepted meanwhile are refused)");
      return received;
    } else if constexpr (knock::pipelining_replay_store<store_type>) {
      auto& store = server_.replay_store();
      const std::uint64_t pipeline = store.begin_pipeline();
      auto received = c.receive(on);
      settle_pipeline(batch, store.end_pipeline(pipeline, on.refused()), on.refused());
      return received;
    } else {
      return c.receive(on);
    }
  }();
  log_.flush_packets();
  return got;
}

// A savefile, a batch at a time (pcap's `batch` frames) until a read takes no frame or -C is
// reached: each batch's grants wait in the firewall writer's queue until the batch ends, and
// the queue holds `async_options::capacity` (a whole file in one batch refused the grants past
// 4,096). Between batches the answers are taken and, with a firewall that takes its time, the
// queue is let down to half. Why it failed, or nothing.
template <class Server, class Capture>
std::optional<std::string> daemon_loop<Server, Capture>::read_savefile(packet_path& main_path) {
  for (std::uint64_t read = ~std::uint64_t{0}; !limit_reached_.load();) {
    const std::uint64_t now_read = capture_.stats().received;
    if (now_read == read) break;
    read = now_read;
    if (auto got = receive_batch(capture_, main_path); !got)
      return "capture failed: " + to_string(got.error());
    firewall_answers();
    // At most a minute a batch: a writer that stopped answering leaves the next grants to be
    // refused (queue full, each logged), not the daemon waiting for ever.
    for (int waits = 0;
         waits < 600 && server_.firewall().waiting() > server_.firewall().capacity() / 2; ++waits) {
      pollfd answers{server_.firewall().answers_fd(), POLLIN, 0};
      (void)::poll(&answers, 1, 100);
      firewall_answers();
    }
    log_.flush_packets();
  }
  return std::nullopt;
}

// A pipelining store's answers for a batch (KNOCK_REPLAY_REDIS: one round trip per batch): the
// batch's grants whose keys Redis held, or could not tell, are refused with that reason; all of
// them when the answers could not be listed.
template <class Server, class Capture>
template <class Held>
void daemon_loop<Server, Capture>::settle_pipeline(Held& batch, bool listed,
                                                   std::vector<knock::replay_refusal>& refused) {
  if (!listed)
    batch.cancel(knock::error{knock::errc::replay_store_unavailable,
                              "replay store: its answers for a batch could not be kept"});
  else if (!refused.empty())
    batch.refuse_if([&](const knock::firewall::grant_request& r) -> const knock::error* {
      for (const auto& x : refused)
        if (x.ticket == r.replay_ticket) return &x.why;
      return nullptr;
    });
  refused.clear();
}

template <class Server, class Capture>
bool daemon_loop<Server, Capture>::packet_limit_reached() {
  const bool reached = limit_reached_.load();
  if (reached)
    log_(LOG_NOTICE, "packet limit reached (-C " + std::to_string(*o_.packet_limit) + "): exiting");
  return reached;
}

// ---- workers (KNOCK_WORKERS) ----------------------------------------------------------------

// A thread for each further capture, each with its own packet path; a worker that stops by
// itself (its capture failed, -C reached) says so through the pool's note.
template <class Server, class Capture>
bool daemon_loop<Server, Capture>::start_workers() {
  if (!workers_.open() || !loop_->watch(workers_.note_fd()))
    return log_(LOG_ERR, "workers: " + std::string{std::strerror(errno)}), false;
  for (std::size_t i = 0; i < more_.size(); ++i)
    workers_.start(more_[i].fds(), [this, i] {
      // A store per worker (Redis: per_worker_store): this thread's is the worker's own.
      if constexpr (requires { server_.replay_store().bind(i); })
        server_.replay_store().bind(i + 1);
      return [this, i,
              path = packet_path{*this, decided_[i + 1]}]() mutable -> std::optional<std::string> {
        std::size_t got = 0;
        {
          std::shared_lock lock{rules_lock_};
          auto received = receive_batch(more_[i], path);
          if (!received)
            return "worker " + std::to_string(i + 1) +
                   ": capture failed: " + to_string(received.error());
          got = *received;
        }
        if (limit_reached_) return std::string{};  // -C reached: nothing to say
        let_the_next_batch_gather(got);            // not holding the rules: a reload need not wait
        return std::nullopt;
      };
    });
  return true;
}

template <class Server, class Capture>
bool daemon_loop<Server, Capture>::worker_stopped() {
  const std::vector<std::string> said = workers_.take_notes();
  bool failed = false;
  for (const auto& line : said) {
    if (line.empty()) continue;  // one that reached -C
    failed = true;
    log_(LOG_ERR, line + (s_.exit_at_intf_down ? " (EXIT_AT_INTF_DOWN Y: exiting)"
                                               : " (the other workers go on)"));
  }
  if (failed && s_.exit_at_intf_down) return false;
  return !packet_limit_reached();
}

}  // namespace knock_server
