// SPDX-License-Identifier: MIT
#pragma once
// KNOCK_WORKERS: more than one core decides packets. Each worker has its own capture handle (pcap
// sockets joined in one PACKET_FANOUT group, by flow hash: the kernel spreads the packets over
// them) and its own decode path; they share one server — its replay store and its Observer behind
// a mutex each (`locked_store`, `locked_observer`: a packet replayed to two workers is accepted
// once; Redis instead gives each worker a store and a connection of its own, per_worker_store.hpp,
// and decides between them with SET NX), its rules behind a reader/writer lock (reloads), and its
// firewall writer (firewall::async, whose queue takes grants from any thread). The main thread is
// worker 0 and keeps everything else (signals, the timer, the firewall's answers, the TCP server,
// reloads).

#include "event_loop.hpp"

#include <knock/core/error.hpp>
#include <knock/core/result.hpp>
#include <knock/observe/concept.hpp>
#include <knock/replay/concept.hpp>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <linux/if_packet.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace knock_server {

/// A ReplayStore shared by the workers: each call under one mutex (remember is insert-if-absent,
/// so of two workers given the same packet exactly one sees it first). A batch_replay_store
/// whatever the store: a packet's keys are remembered under one lock, in one call.
template <knock::replay_policy Store>
class locked_store {
 public:
  using role = knock::role::replay;
  explicit locked_store(Store s) : store_{std::move(s)}, m_{std::make_unique<std::mutex>()} {}

  knock::result<knock::sighting> remember(const knock::replay_key& k, knock::epoch_seconds until,
                                          knock::epoch_seconds now) noexcept {
    std::lock_guard lock{*m_};
    return store_.remember(k, until, now);
  }
  /// A packet's keys under one lock: the store's own batch (Redis: one round trip) or a loop.
  bool contains(const knock::replay_key& k,
                knock::epoch_seconds now) const noexcept requires knock::replay_lookup<Store> {
    std::lock_guard lock{*m_};
    return store_.contains(k, now);
  }
  knock::result<knock::sighting> remember_all(std::span<const knock::replay_key> keys,
                                              knock::epoch_seconds until,
                                              knock::epoch_seconds now) noexcept {
    std::lock_guard lock{*m_};
    return knock::remember_all(store_, keys, until, now);
  }
  std::size_t size() const noexcept {
    std::lock_guard lock{*m_};
    return store_.size();
  }
  knock::result<void> commit() requires knock::durable_replay_store<Store> {
    std::lock_guard lock{*m_};
    return store_.commit();
  }
  /// A worker's batch (see knock::commit_batching_store): the store's own mark, under the lock.
  auto begin_batch() noexcept requires knock::commit_batching_store<Store> {
    std::lock_guard lock{*m_};
    return store_.begin_batch();
  }
  template <class Mark>
  knock::result<void> end_batch(Mark mark) noexcept requires knock::commit_batching_store<Store> {
    std::lock_guard lock{*m_};
    return store_.end_batch(mark);
  }

  // A pipelining store (Redis): each worker's batch is a pipeline of its own; the first to send
  // sends every worker's queued keys (see knock::pipelining_replay_store).
  std::uint64_t begin_pipeline() noexcept requires knock::pipelining_replay_store<Store> {
    std::lock_guard lock{*m_};
    return store_.begin_pipeline();
  }
  bool pipelining() const noexcept requires knock::pipelining_replay_store<Store> {
    return store_.pipelining();  // this thread's: nothing shared is read
  }
  knock::result<knock::replay_promise> remember_later(
      std::span<const knock::replay_key> keys, knock::epoch_seconds until,
      knock::epoch_seconds now) noexcept requires knock::pipelining_replay_store<Store> {
    std::lock_guard lock{*m_};
    return store_.remember_later(keys, until, now);
  }
  knock::result<knock::sighting> settle_now(
      std::uint32_t ticket) noexcept requires knock::pipelining_replay_store<Store> {
    std::lock_guard lock{*m_};
    return store_.settle_now(ticket);
  }
  void release(std::uint32_t ticket) noexcept requires knock::pipelining_replay_store<Store> {
    std::lock_guard lock{*m_};
    store_.release(ticket);
  }
  bool end_pipeline(std::uint64_t id, std::vector<knock::replay_refusal>& refused) noexcept requires
      knock::pipelining_replay_store<Store> {
    std::lock_guard lock{*m_};
    return store_.end_pipeline(id, refused);
  }

  /// Calls `f(store)` under the lock: what the main thread reads of the store (its memory, a
  /// Redis store's health) while workers use it.
  template <class F>
  decltype(auto) with_lock(F&& f) const {
    std::lock_guard lock{*m_};
    return std::forward<F>(f)(store_);
  }

 private:
  Store store_;
  std::unique_ptr<std::mutex> m_;
};

/// An Observer shared by the workers (and the main thread's `settle`): each event under a mutex.
template <knock::observer_policy Observer>
class locked_observer {
 public:
  using role = knock::role::observer;
  explicit locked_observer(Observer o) : o_{std::move(o)}, m_{std::make_unique<std::mutex>()} {}

  void on_packet(const knock::packet_event& e) noexcept {
    std::lock_guard lock{*m_};
    o_.on_packet(e);
  }
  void tick() noexcept requires knock::ticking_observer<Observer> {
    std::lock_guard lock{*m_};
    o_.tick();
  }
  /// Runs `fn(observer)` under the mutex (the metrics table: decode times, reloads, rendering).
  template <class Fn>
  void locked(Fn&& fn) {
    std::lock_guard lock{*m_};
    fn(o_);
  }

 private:
  Observer o_;
  std::unique_ptr<std::mutex> m_;
};

/// Whether a stanza of `stanzas` decrypts with GnuPG: its gpgme context is the stanza's, and
/// gpgme does not let two threads use one context, so such rules keep one worker.
template <class Stanzas>
bool uses_gnupg(const Stanzas& stanzas) {
  for (const auto& st : stanzas)
    if constexpr (requires { st.cipher.uses_asymmetric(); })
      if (st.cipher.uses_asymmetric()) return true;
  return false;
}

/// Joins the packet sockets `fds` to fanout group `group`, spread by flow hash (IP fragments
/// reassembled first, so a fragmented datagram stays whole). An error naming the descriptor when
/// one is not a packet socket or the kernel refuses.
inline knock::result<void> join_fanout(std::span<const int> fds, std::uint16_t group) {
  for (int fd : fds) {
    int domain = 0;
    socklen_t len = sizeof domain;
    if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 || domain != AF_PACKET)
      return knock::fail(knock::error{
          knock::errc::config_invalid,
          "KNOCK_WORKERS: the capture's descriptor " + std::to_string(fd) +
              " is not a packet socket: a fanout group needs KNOCK_CAPTURE packet or pcap on a "
              "live interface"});
    const int arg = group | ((PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG) << 16);
    if (::setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) != 0)
      return knock::fail(
          knock::system_error(knock::errc::io_failed, "KNOCK_WORKERS: PACKET_FANOUT"));
  }
  return {};
}

/// Waits for `fds` (or `stop_fd`) and calls `on_input()` when one is readable, until `stop_fd`
/// is readable or `on_input` returns false. Runs on a worker thread.
template <class OnInput>
void worker_loop(std::span<const int> fds, int stop_fd, OnInput&& on_input) {
  const unique_fd ep{::epoll_create1(EPOLL_CLOEXEC)};
  if (!ep) return;
  for (int fd : fds) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &ev);
  }
  epoll_event stop{};
  stop.events = EPOLLIN;
  stop.data.fd = stop_fd;
  ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, stop_fd, &stop);
  for (;;) {
    epoll_event events[8];
    const int n = ::epoll_wait(ep.get(), events, 8, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return;
    for (int i = 0; i < n; ++i)
      if (events[i].data.fd == stop_fd || !on_input()) return;
  }
}

/// The worker threads (KNOCK_WORKERS): `start` runs one, `stop` (or the destructor) stops and
/// joins them all. A worker that ends by itself leaves a note (`take_notes`: why, or empty when
/// it had nothing to say) and makes `note_fd()` readable for the main loop.
class worker_pool {
 public:
  worker_pool() = default;
  worker_pool(const worker_pool&) = delete;
  worker_pool& operator=(const worker_pool&) = delete;
  ~worker_pool() { stop(); }

  /// The eventfds (stop, note); false (errno) when they cannot be had.
  bool open() {
    stop_ = unique_fd{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
    note_ = unique_fd{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
    return stop_ && note_;
  }
  int note_fd() const noexcept { return note_ ? note_.get() : -1; }

  /// A thread that calls `make()` (on the thread: what it needs is its own) once, then the
  /// callable it returned whenever one of `fds` is readable, until `stop` or until that callable
  /// returns a note (`std::optional<std::string>`: set, the worker ends and leaves it). Signals
  /// stay blocked in it (the caller's mask, which the event loop set).
  template <class Make>
  void start(std::span<const int> fds, Make make) {
    threads_.emplace_back([this, fds = std::vector<int>(fds.begin(), fds.end()), make] {
      auto on_input = make();
      worker_loop(fds, stop_.get(), [&] {
        std::optional<std::string> note = on_input();
        if (!note) return true;
        {
          std::lock_guard lock{m_};
          notes_.push_back(*std::move(note));
        }
        const std::uint64_t one = 1;
        (void)!::write(note_.get(), &one, sizeof one);
        return false;
      });
    });
  }

  /// Stops every worker and joins it (their batches end first).
  void stop() noexcept {
    const std::uint64_t one = 1;
    if (!threads_.empty()) (void)!::write(stop_.get(), &one, sizeof one);
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  /// The notes left by workers that ended since the last call (and resets `note_fd`).
  std::vector<std::string> take_notes() {
    std::uint64_t n = 0;
    (void)!::read(note_.get(), &n, sizeof n);
    std::vector<std::string> said;
    std::lock_guard lock{m_};
    said.swap(notes_);
    return said;
  }

 private:
  unique_fd stop_;
  unique_fd note_;
  std::mutex m_;
  std::vector<std::string> notes_;
  std::vector<std::thread> threads_;
};

}  // namespace knock_server
