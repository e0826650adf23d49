// SPDX-License-Identifier: MIT
#pragma once
// A networked replay store (Redis) for KNOCK_WORKERS: one store, and so one connection, local
// filter and pipeline, per worker thread. Behind one lock (`locked_store`) a worker that sent its
// batch held the lock for the round trip, and the other worker waited at its next valid packet;
// with a store each, a worker decides while another's batch is out. Two workers racing with one
// packet still get one `OK`: Redis's `SET NX` decides, as between two gateways.
//
// A worker names its store once, on its own thread (`bind`); every other thread (the main
// thread, which is worker 0, and its TCP server) uses store 0. Each store has a mutex: its worker
// holds it uncontended; the main thread takes it for a moment to read a store's health and size.

#include <knock/core/error.hpp>
#include <knock/core/result.hpp>
#include <knock/replay/concept.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace knock_server {

/// What `per_worker_store::with_lock` shows of its stores' health (knock-server's
/// replay_store_watch): failures summed, the last error of the store that failed most, connected
/// while any store is.
struct workers_store_health {
  std::uint64_t failures_ = 0;
  std::string last_error_, endpoint_;
  bool connected_ = false;
  std::uint64_t failures() const noexcept { return failures_; }
  const std::string& last_error() const noexcept { return last_error_; }
  const std::string& endpoint() const noexcept { return endpoint_; }
  bool connected() const noexcept { return connected_; }
};

/// A pipelining replay store per worker thread. Models the concepts its `Store` models among
/// replay_policy, batch_replay_store, replay_lookup and pipelining_replay_store.
template <knock::pipelining_replay_store Store>
class per_worker_store {
 public:
  using role = knock::role::replay;

  /// One store for each worker (at least one: the main thread's).
  explicit per_worker_store(std::vector<Store> stores) {
    for (auto& s : stores) slots_.push_back(std::make_unique<slot>(std::move(s)));
    if (slots_.empty()) throw std::invalid_argument{"per_worker_store: no store"};
  }

  /// Makes store `i` (0-based, clamped) this thread's, from now on.
  void bind(std::size_t i) noexcept { current_ = {this, i < slots_.size() ? i : 0}; }
  std::size_t stores() const noexcept { return slots_.size(); }

  knock::result<knock::sighting> remember(const knock::replay_key& k, knock::epoch_seconds until,
                                          knock::epoch_seconds now) noexcept {
    return with_mine([&](Store& s) { return s.remember(k, until, now); });
  }
  knock::result<knock::sighting> remember_all(std::span<const knock::replay_key> keys,
                                              knock::epoch_seconds until,
                                              knock::epoch_seconds now) noexcept {
    return with_mine([&](Store& s) { return knock::remember_all(s, keys, until, now); });
  }
  bool contains(const knock::replay_key& k,
                knock::epoch_seconds now) const noexcept requires knock::replay_lookup<Store> {
    slot& mine = this_threads();
    std::lock_guard lock{mine.m};
    return mine.store.contains(k, now);
  }
  /// Keys held by all the stores (their local filters, for a networked store).
  std::size_t size() const noexcept {
    std::size_t n = 0;
    for (const auto& s : slots_) {
      std::lock_guard lock{s->m};
      n += s->store.size();
    }
    return n;
  }

  std::uint64_t begin_pipeline() noexcept {
    return with_mine([](Store& s) { return s.begin_pipeline(); });
  }
  bool pipelining() const noexcept {
    return this_threads().store.pipelining();  // this thread's own: nothing shared is read
  }
  knock::result<knock::replay_promise> remember_later(std::span<const knock::replay_key> keys,
                                                      knock::epoch_seconds until,
                                                      knock::epoch_seconds now) noexcept {
    return with_mine([&](Store& s) { return s.remember_later(keys, until, now); });
  }
  knock::result<knock::sighting> settle_now(std::uint32_t ticket) noexcept {
    return with_mine([&](Store& s) { return s.settle_now(ticket); });
  }
  void release(std::uint32_t ticket) noexcept {
    with_mine([&](Store& s) { s.release(ticket); });
  }
  bool end_pipeline(std::uint64_t id, std::vector<knock::replay_refusal>& refused) noexcept {
    return with_mine([&](Store& s) { return s.end_pipeline(id, refused); });
  }

  /// Calls `f(health)` with the stores' health summed up (see workers_store_health), or, for
  /// stores that report none, `f(store 0)` under its lock.
  template <class F>
  decltype(auto) with_lock(F&& f) const {
    if constexpr (requires(const Store& s) { s.failures(), s.last_error(), s.connected(); }) {
      workers_store_health h;
      std::uint64_t latest = 0;
      for (const auto& s : slots_) {
        std::lock_guard lock{s->m};
        const std::uint64_t failures = s->store.failures();
        h.failures_ += failures;
        if (failures > latest) latest = failures, h.last_error_ = s->store.last_error();
        if (s->store.connected() && !h.connected_)
          h.connected_ = true, h.endpoint_ = s->store.endpoint();
      }
      if (latest == 0) {  // none failed yet: store 0's words, if any
        std::lock_guard lock{slots_.front()->m};
        h.last_error_ = slots_.front()->store.last_error();
      }
      return std::forward<F>(f)(std::as_const(h));
    } else {
      std::lock_guard lock{slots_.front()->m};
      return std::forward<F>(f)(std::as_const(slots_.front()->store));
    }
  }

 private:
  struct slot {
    explicit slot(Store s) : store{std::move(s)} {}
    Store store;
    mutable std::mutex m;
  };
  struct binding {
    const per_worker_store* owner = nullptr;
    std::size_t index = 0;
  };

  slot& this_threads() const noexcept {
    return *slots_[current_.owner == this ? current_.index : 0];
  }
  template <class F>
  decltype(auto) with_mine(F&& f) noexcept {
    slot& mine = this_threads();
    std::lock_guard lock{mine.m};
    return std::forward<F>(f)(mine.store);
  }

  std::vector<std::unique_ptr<slot>> slots_;
  static inline thread_local binding current_{};
};

}  // namespace knock_server
