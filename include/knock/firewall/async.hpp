// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::firewall::async<F>`: a Firewall policy that applies grants on a writer thread of its
/// own, so that whoever decides packets (the daemon's capture loop) never waits for the firewall.
/// A grant through iptables is a fork + exec of a program, milliseconds during which a capture ring
/// overflows under a flood; through the writer it costs the capture loop a queue push.
///
///     auto fw = knock::firewall::async<knock::firewall::nftables>::start(*std::move(backend));
///     knock::server<..., knock::firewall::async<knock::firewall::nftables>> srv{rules,
///     *std::move(fw)}; knock::verdict v = srv.handle(d, now);   // v.pending: the grant waits for
///     the writer
///     // answers_fd() readable (epoll):
///     srv.firewall().drain([&](knock::firewall::answer a) {
///       if (a.what == knock::firewall::answer::kind::grant)
///         srv.settle(std::move(a.request), a.outcome);   // the packet's log line, now
///     });
///
/// - One writer: grants are applied in the order they were submitted, answered in that order.
/// - The queue is bounded (`async_options::capacity`): when it is full `submit` refuses the grant
///   at once (`firewall_failed`, saying so), so it is logged as refused, never silently lost.
/// - Consecutive plain grants waiting in the queue go to the backend in one call when it can batch
///   (`batching_firewall`: `open_batch`, e.g. one nftables transaction for all of them).
/// - Answers (each grant's result, each `expire_later`'s) wait in a list; `answers_fd()` (an
///   eventfd) is readable while there are some; `drain` hands them out.
/// - A `held` scope (`auto batch = fw.hold();` around a batch of packets) stages the grants its
///   thread submits while it lives: the writer neither sees them nor is woken; when the scope
///   ends they join the queue and the writer is woken once for all. A capture loop that decides a
///   ring block of packets so pays one wake-up (a futex call and a switch) per block, not one per
///   grant — and can make the block's replay keys durable in one go before any of its grants is
///   applied; `held::cancel(why)` refuses every staged grant instead (every thread's: a replay
///   log write that failed may have carried another worker's keys), answered with `why`, and
///   `held::refuse_if(why_not)` refuses the scope's own grants that `why_not` gives a reason for
///   (the ones a pipelining replay store found replayed at the batch's end). Each
///   worker thread holds its own scope, so one worker's grants never wait for another's batch
///   (with one scope for all, two busy workers whose batches overlap kept every grant staged
///   until the queue was full). A scope made while the thread holds one already is part of it.
/// - `open`, `open_nat`, `expire` and `call(fn)` run on the writer and wait for it, so async<F> is
///   a plain Firewall policy too, and `call` is how the owner reaches the backend (reloads, stop).
/// - `finish()` (also the destructor) takes no more work, lets the writer apply what is queued,
///   and joins it; the answers stay for `drain`, and `call` then runs on the caller's thread.
/// - A backend whose calls never wait (`instant_firewall`: `recording`) may run without a thread
///   (`async_options::inline_when_instant`): the thread that queues work runs the queue, one
///   thread at a time, in order, with the same answers; the writer thread starts when the backend
///   stops being instant (a reload added command cycles, which start processes).
/// - The writer blocks every signal (a process-directed signal must reach the thread that waits
///   for it: the daemon's signalfd). Created after a privilege drop it has the creator's
///   credentials and capabilities, which on Linux belong to each thread.

#include <knock/core/error.hpp>
#include <knock/core/grant.hpp>
#include <knock/core/result.hpp>
#include <knock/core/role.hpp>
#include <knock/firewall/async_writer.hpp>
#include <knock/firewall/concept.hpp>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/eventfd.h>
#endif

namespace knock::firewall {

/// Applies the grants of a Firewall `F` on a writer thread. Models knock::firewall_policy and
/// firewall::deferring_firewall (and the abilities of F that make sense through a queue: NAT,
/// self-repair counts). Move-only.
template <firewall_policy F>
class async {
 public:
  using role = knock::role::firewall;
  using backend_type = F;

 private:
  using job = detail::async_job<F>;
  using state = detail::async_writer<F>;
  // Answers whose memory `drain` keeps for the next ones (a few batches' worth, ≈86 KiB); a list
  // grown larger by a backlog goes back to the heap.
  static constexpr std::size_t spare_answers_kept = 256;

 public:
  /// Not started: refuses everything (`start` makes a working one).
  async() = default;

  /// Starts the writer over `backend`; an error when no thread or eventfd can be had.
  static result<async> start(F backend, async_options options = {}) {
    std::unique_ptr<state> st;
    try {
      st = std::make_unique<state>(std::move(backend), options);
    } catch (...) {
      return fail(error{errc::firewall_failed, "firewall writer: out of memory"});
    }
#ifdef __linux__
    st->event_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (st->event_fd < 0)
      return fail(system_error(errc::firewall_failed, "firewall writer: eventfd"));
#else
    int fds[2];
    if (::pipe(fds) != 0) return fail(system_error(errc::firewall_failed, "firewall writer: pipe"));
    for (int fd : fds) ::fcntl(fd, F_SETFL, O_NONBLOCK), ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    st->event_fd = fds[0];
    st->event_write_fd = fds[1];
#endif
    st->publish_repairs();
    std::lock_guard lock{st->m};
    if constexpr (instant_firewall<F>)
      if (options.inline_when_instant && st->backend.instant()) {
        st->inline_mode = true;  // no thread until the backend stops being instant
        return async{std::move(st)};
      }
    if (auto why = st->start_thread(); !why.empty())
      return fail(error{errc::firewall_failed, "firewall writer: cannot start its thread: " + why});
    return async{std::move(st)};
  }

  async(async&&) noexcept = default;
  async& operator=(async&& o) noexcept {
    if (this != &o) {
      finish();
      st_ = std::move(o.st_);
    }
    return *this;
  }
  ~async() { finish(); }

  // ---- deferring: the capture loop's side -------------------------------------------------

  /// Queues a grant for the writer; an error (nothing queued, nothing granted) when the queue is
  /// full, the writer has stopped, or the grant needs NAT that F cannot do.
  result<void> submit(grant_request r) noexcept {
    if (r.nat && !nat_firewall<F>) return fail(errc::nat_unsupported);
    if (!st_) return refused(nullptr);
    try {
      std::lock_guard lock{st_->m};
      if (st_->stopping) return refused(nullptr);
      if (st_->queued_grants >= st_->options.capacity) return refused(&st_->queued_grants);
      if (current_hold_.st == st_.get()) {  // staged: the thread's `held` scope queues them
        job j{job::kind::grant, std::move(r)};
        j.owner = current_hold_.id;
        st_->staged.push_back(std::move(j));
        ++st_->queued_grants;
        return {};
      }
      st_->queue.push_back(job{job::kind::grant, std::move(r)});
      ++st_->queued_grants;
    } catch (...) {
      return fail(errc::firewall_failed);  // std::bad_alloc: the reason says it
    }
    st_->kick();
    return {};
  }

  /// While one is alive, `submit` on its thread stages grants: the writer does not see them.
  /// When it ends its staged grants join the queue, in order, and the writer is woken. Each
  /// worker thread may hold one around its batch; one made while its thread holds one already
  /// (for this or another async) stages nothing of its own.
  class held {
   public:
    held(held&& o) noexcept : st_{std::exchange(o.st_, nullptr)}, id_{std::exchange(o.id_, 0)} {}
    held(const held&) = delete;
    held& operator=(const held&) = delete;
    held& operator=(held&&) = delete;
    ~held() {
      if (st_ == nullptr || id_ == 0) return;
      current_hold_ = {};
      bool wake = false;
      {
        std::lock_guard lock{st_->m};
        wake = st_->release_staged(id_);
      }
      if (wake) st_->kick();
    }

    /// Refuses every staged grant (every worker's): each is answered (`drain`) with `why`, none
    /// is applied. For a batch whose replay keys could not be made durable.
    void cancel(const error& why) noexcept {
      if (st_ == nullptr) return;
      std::lock_guard lock{st_->m};
      if (st_->staged.empty()) return;
      for (auto& j : st_->staged) st_->refuse_staged(j, why);
      st_->staged.clear();
      st_->notify();
    }

    /// Refuses this scope's staged grants for which `why_not(const grant_request&)` gives a
    /// reason (a `const error*`; null keeps the grant): each is answered (`drain`) with it, none
    /// is applied. For the grants a pipelining replay store answered for at the batch's end
    /// (their `replay_ticket`). Runs `why_not` under the writer's lock.
    template <class WhyNot>
    void refuse_if(WhyNot&& why_not) noexcept {
      if (st_ == nullptr || id_ == 0) return;
      std::lock_guard lock{st_->m};
      st_->refuse_staged_if(id_, why_not);
    }

   private:
    friend class async;
    explicit held(state* st) noexcept : st_{st} {
      if (st_ == nullptr || current_hold_.st != nullptr) return;  // none, or nested: inert
      std::lock_guard lock{st_->m};
      id_ = ++st_->last_hold;
      current_hold_ = {st_, id_};
    }
    state* st_;
    std::uint64_t id_ = 0;  // 0: stages nothing of its own (nested, or moved from)
  };
  [[nodiscard]] held hold() noexcept { return held{st_.get()}; }

  /// Queues an expiry (and check) at `now`, unless one is queued already; its answer comes
  /// through `drain` (`answer::kind::expiry`). Does not wait.
  void expire_later(epoch_seconds now) noexcept {
    if (!st_) return;
    try {
      std::lock_guard lock{st_->m};
      if (st_->stopping || st_->expiry_queued) return;
      job j{job::kind::expire, {}};
      j.now = now;
      st_->queue.push_back(std::move(j));
      st_->expiry_queued = true;
    } catch (...) {
      return;  // the next tick tries again
    }
    st_->kick();
  }

  /// Readable (epoll, poll) while answers wait for `drain`; -1 when not started.
  int answers_fd() const noexcept { return st_ ? st_->event_fd : -1; }

  /// Hands every waiting answer to `on(answer&&)`, in order; how many.
  template <class On>
  std::size_t drain(On&& on) {
    if (!st_) return 0;
    std::uint64_t count = 0;  // reset the eventfd before taking the list: no wake-up is lost
    (void)!::read(st_->event_fd, &count, sizeof count);
    std::vector<answer> got;  // the spare list's memory: the writer's next answers go in it
    {
      std::lock_guard lock{st_->m};
      got.swap(st_->spare_answers);
      got.swap(st_->answers);
    }
    const std::size_t n = got.size();
    for (auto& a : got) on(std::move(a));
    got.clear();
    // Kept for the next answers unless a backlog made it large (then given back to the heap).
    if (got.capacity() > spare_answers_kept) return n;
    std::lock_guard lock{st_->m};
    if (got.capacity() > st_->spare_answers.capacity()) got.swap(st_->spare_answers);
    return n;
  }

  /// The most grants the queue holds (`async_options::capacity`); 0 when not started.
  std::size_t capacity() const noexcept { return st_ ? st_->options.capacity : 0; }

  /// Grants and expiries queued or being applied.
  std::size_t waiting() const noexcept {
    if (!st_) return 0;
    std::lock_guard lock{st_->m};
    return st_->queue.size() + st_->staged.size() + st_->running;
  }

  // ---- a plain Firewall policy: each call waits for the writer -----------------------------

  result<void> open(const grant& g) {
    return call([&](F& f) { return f.open(g); });
  }
  result<void> open_nat(const grant& g) requires nat_firewall<F> {
    return call([&](F& f) { return f.open_nat(g); });
  }
  result<void> expire(epoch_seconds now) {
    return call([&](F& f) { return f.expire(now); });
  }

  /// How often the backend remade rules deleted under it (as of its last job).
  std::size_t repairs() const noexcept requires self_repairing_firewall<F> {
    return st_ ? st_->repairs.load(std::memory_order_relaxed) : 0;
  }

  /// Runs `fn(backend)` on the writer, after everything queued before it, and returns what it
  /// returns; once the writer has finished, on the calling thread.
  template <class Fn>
  std::invoke_result_t<Fn&, F&> call(Fn&& fn) {
    using R = std::invoke_result_t<Fn&, F&>;
    struct context {
      Fn* fn;
      std::optional<std::conditional_t<std::is_void_v<R>, bool, R>> out;
      bool done = false;
      static void run(void* c, F& f) {
        auto* self = static_cast<context*>(c);
        if constexpr (std::is_void_v<R>)
          (*self->fn)(f), self->out.emplace(true);
        else
          self->out.emplace((*self->fn)(f));
      }
    } ctx{&fn, {}};
    if (st_) {
      std::unique_lock lock{st_->m};
      if (!st_->stopping) {
        job j{job::kind::call, {}};
        j.fn = &context::run;
        j.ctx = &ctx;
        j.done = &ctx.done;
        st_->queue.push_back(std::move(j));
        lock.unlock();
        st_->kick();  // runs it here when inline (or another thread running the queue does)
        lock.lock();
        st_->idle.wait(lock, [&] { return ctx.done; });
        if constexpr (std::is_void_v<R>) {
          return;
        } else {
          if (ctx.out) return *std::move(ctx.out);
          if constexpr (std::is_same_v<R, result<void>>)  // `fn` threw on the writer
            return fail(error{errc::firewall_failed, "firewall writer: out of memory"});
          else
            std::terminate();
        }
      }
      lock.unlock();
      st_->join();
      return fn(st_->backend);
    }
    if constexpr (std::is_same_v<R, result<void>>)
      return fail(error{errc::firewall_failed, "firewall writer: not started"});
    else
      std::terminate();  // a call on an async that was never started
  }

  /// Takes no more work, lets the writer apply what is queued, and joins it. Answers stay for
  /// `drain`.
  void finish() noexcept {
    if (!st_) return;
    {
      std::lock_guard lock{st_->m};
      st_->stopping = true;
    }
    st_->kick();  // inline: what is queued runs now
    st_->work.notify_all();
    st_->join();
  }

 private:
  explicit async(std::unique_ptr<state> st) noexcept : st_{std::move(st)} {}

  // Why a grant is refused before the writer sees it: the queue is full (`waiting` grants), or
  // the writer is not running (null).
  static result<void> refused(const std::size_t* waiting) noexcept {
    try {
      return fail(error{errc::firewall_failed,
                        waiting != nullptr
                            ? "firewall writer: " + std::to_string(*waiting) +
                                  " grant(s) already wait for the firewall (its queue is full): "
                                  "nothing granted"
                            : std::string{"firewall writer: not running: nothing granted"}});
    } catch (...) {
      return fail(errc::firewall_failed);
    }
  }

  // The `held` scope of this thread, if any: which writer it stages for, and its number.
  struct hold_tag {
    const state* st = nullptr;
    std::uint64_t id = 0;
  };
  static inline thread_local hold_tag current_hold_{};

  std::unique_ptr<state> st_;
};

}  // namespace knock::firewall
