// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// The writer thread behind `knock::firewall::async<F>` (knock/firewall/async.hpp): its jobs, its
/// queue and staging area, the loop that takes jobs (and batches plain grants for a batching
/// backend), runs them without the lock and publishes the answers on an eventfd. `async` owns one
/// and is its only user; the types a caller sees (`async_options`, `answer`) are here because
/// the writer makes them.

#include <knock/core/error.hpp>
#include <knock/core/grant.hpp>
#include <knock/core/result.hpp>
#include <knock/detail/fifo.hpp>
#include <knock/firewall/concept.hpp>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

namespace knock::firewall {

/// How many grants may wait, and how many go to a batching backend at once.
struct async_options {
  std::size_t capacity = 4096;  ///< grants waiting for the writer; more are refused
  std::size_t batch = 64;       ///< most grants handed to `open_batch` in one call
  /// A backend whose calls never wait (`instant_firewall`: `recording`, as in knock-server -t)
  /// runs on the threads that queue work, one at a time, in queue order: no writer thread, no
  /// wake-up per batch. The first job it would run once the backend stops being instant (a reload
  /// gave it command cycles) starts the writer thread instead, which takes over.
  bool inline_when_instant = false;
};

/// What the writer did: a grant's result (with its request), or an expiry's.
struct answer {
  enum class kind : std::uint8_t { grant, expiry };
  kind what = kind::grant;
  grant_request request;  ///< the grant's (empty for an expiry)
  result<void> outcome;
};

namespace detail {

/// One piece of the writer's work: a grant, an expiry, or a call that its owner waits for.
template <firewall_policy F>
struct async_job {
  enum class kind : std::uint8_t { grant, expire, call };
  kind what;
  grant_request request;
  epoch_seconds now = 0;
  void (*fn)(void*, F&) = nullptr;  // a call: run(ctx, backend); its owner waits
  void* ctx = nullptr;
  bool* done = nullptr;
  std::uint64_t owner = 0;  // a staged grant: the `held` scope it waits for
};

template <firewall_policy F>
struct async_writer {
  using job = async_job<F>;
  async_writer(F b, async_options o) : backend{std::move(b)}, options{o} {
    if (options.capacity == 0) options.capacity = 1;
    if (options.batch == 0) options.batch = 1;
  }
  ~async_writer() {
    join();
    if (event_fd >= 0) ::close(event_fd);
    if (event_write_fd >= 0) ::close(event_write_fd);
  }

  // Until nothing runs the queue any more: an inline runner has finished (it notifies `idle`)
  // and the writer thread, if any, is joined. After it the backend is the caller's (`finish`,
  // then `call` on the calling thread, the destructor).
  void join() noexcept {
    {
      std::unique_lock lock{m};
      idle.wait(lock, [&] { return !running_inline; });
    }
    std::lock_guard lock{join_m};
    if (writer.joinable()) writer.join();
  }

  void publish_repairs() noexcept {
    if constexpr (self_repairing_firewall<F>)
      repairs.store(backend.repairs(), std::memory_order_relaxed);
  }

  // Answers a staged grant with `why` (under the lock); drops it if even that fails.
  void refuse_staged(job& j, const error& why) noexcept {
    try {
      answers.push_back(answer{answer::kind::grant, std::move(j.request), result<void>{fail(why)}});
    } catch (...) {
    }
    --queued_grants;
  }

  // Refuses the grants staged by scope `owner` for which `why_not(request)` gives a reason (a
  // `const error*`; null keeps the grant), under the lock.
  template <class WhyNot>
  void refuse_staged_if(std::uint64_t owner, WhyNot& why_not) noexcept {
    bool refused = false;
    auto kept = staged.begin();
    for (auto it = staged.begin(); it != staged.end(); ++it) {
      if (it->owner == owner)
        if (const error* why = why_not(std::as_const(it->request)); why != nullptr) {
          refuse_staged(*it, *why);
          refused = true;
          continue;
        }
      if (kept != it) *kept = std::move(*it);
      ++kept;
    }
    staged.erase(kept, staged.end());
    if (refused) notify();
  }

  // Queues the grants staged by scope `owner`, in order (under the lock); one that cannot be
  // queued (no memory) is refused, never lost. Whether any was queued.
  bool release_staged(std::uint64_t owner) noexcept {
    bool queued = false, refused = false;
    auto kept = staged.begin();  // the other scopes' grants close up here, in order
    for (auto it = staged.begin(); it != staged.end(); ++it) {
      if (it->owner != owner) {
        if (kept != it) *kept = std::move(*it);
        ++kept;
        continue;
      }
      try {
        queue.push_back(std::move(*it));
        queued = true;
      } catch (...) {
        refuse_staged(*it, error{errc::firewall_failed});  // no message: no memory
        refused = true;
      }
    }
    staged.erase(kept, staged.end());
    if (refused) notify();
    return queued;
  }

  void notify() noexcept {
    const std::uint64_t one = 1;
#ifdef __linux__
    (void)!::write(event_fd, &one, sizeof one);
#else
    (void)!::write(event_write_fd, &one, 1);
#endif
  }

  // The writer thread: runs jobs as they come, until stopped and drained.
  void run() noexcept {
    std::unique_lock lock{m};
    for (;;) {
      work.wait(lock, [&] { return stopping || !queue.empty(); });
      if (queue.empty()) return;
      run_front(lock);
    }
  }

  // After work was queued: the writer thread is woken, or (inline) the calling thread runs the
  // queue itself, unless another thread is at it already (that one takes this work too).
  void kick() noexcept {
    if (!inline_mode.load(std::memory_order_acquire)) {  // a writer thread: as ever, wake it
      work.notify_one();
      return;
    }
    std::unique_lock lock{m};
    if (!inline_mode) {  // the writer thread took over meanwhile
      work.notify_one();
      return;
    }
    if (running_inline) return;
    running_inline = true;
    while (!queue.empty()) {
      if constexpr (instant_firewall<F>)
        if (!backend.instant() && start_thread().empty()) {  // from now on the writer thread's
          work.notify_one();
          break;
        }
      run_front(lock);
    }
    running_inline = false;
    idle.notify_all();  // `join` may wait for this runner
  }

  // Starts the writer thread, born with every signal blocked (it must never take the daemon's
  // signals): empty, or why no thread could be had (the queue then stays inline). Under the lock.
  std::string start_thread() noexcept {
    sigset_t all, old;
    ::sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    std::string why;
    try {
      writer = std::thread{[this] { run(); }};
      inline_mode = false;
    } catch (const std::system_error& e) {
      why = e.what();
      if (why.empty()) why = "no thread";
    } catch (...) {
      why = "out of memory";
    }
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return why;
  }

  // Takes the front job (and the plain grants right behind it, for a batching backend), runs it
  // without the lock, publishes the answers (waking the owner only when none were waiting
  // already). Called with the lock held, by one thread at a time (the writer, or the inline
  // runner); returns with it held.
  void run_front(std::unique_lock<std::mutex>& lock) noexcept {
    taken.clear();
    out.clear();
    try {
      taken.push_back(std::move(queue.front()));
      queue.pop_front();
      if constexpr (batching_firewall<F>)
        if (taken.front().what == job::kind::grant && !taken.front().request.nat)
          while (!queue.empty() && taken.size() < options.batch &&
                 queue.front().what == job::kind::grant && !queue.front().request.nat) {
            taken.push_back(std::move(queue.front()));
            queue.pop_front();
          }
    } catch (...) {  // std::bad_alloc growing `taken`: the front job alone, next time
    }
    if (taken.empty()) return;
    running = taken.size();
    for (const auto& j : taken) {
      if (j.what == job::kind::grant) --queued_grants;
      if (j.what == job::kind::expire) expiry_queued = false;
    }
    lock.unlock();
    execute(taken, out);
    publish_repairs();
    lock.lock();
    running = 0;
    bool called = false;
    for (auto& j : taken)
      if (j.what == job::kind::call) *j.done = true, called = true;
    if (!out.empty()) {
      // The owner's `drain` resets the eventfd before it takes the list: answers already
      // waiting mean a wake-up is pending, and these go with them.
      const bool was_empty = answers.empty();
      try {
        for (auto& a : out) answers.push_back(std::move(a));
      } catch (...) {  // cannot record the answers: nothing more to do than drop them
      }
      if (was_empty) notify();
    }
    if (called) idle.notify_all();
  }

  void execute(std::vector<job>& taken, std::vector<answer>& out) noexcept {
    const auto oom = [] {
      return result<void>{fail(error{errc::firewall_failed, "firewall writer: out of memory"})};
    };
    try {
      out.reserve(taken.size());
      if (taken.front().what == job::kind::call) {
        taken.front().fn(taken.front().ctx, backend);
        return;
      }
      if (taken.front().what == job::kind::expire) {
        out.push_back(answer{answer::kind::expiry, {}, backend.expire(taken.front().now)});
        return;
      }
      if constexpr (batching_firewall<F>) {
        if (taken.size() > 1) {
          batch_grants.clear();
          for (const auto& j : taken) batch_grants.push_back(j.request.granted);
          auto results = backend.open_batch(batch_grants);
          for (std::size_t i = 0; i < taken.size(); ++i) {
            // A backend that answered fewer grants than it was given: the rest failed (the
            // message is made only then: it is too long for a string kept in place).
            result<void> ok = i < results.size()
                                  ? std::move(results[i])
                                  : result<void>{fail(error{errc::firewall_failed,
                                                            "firewall writer: no answer"})};
            out.push_back(answer{answer::kind::grant, std::move(taken[i].request), std::move(ok)});
          }
          return;
        }
      }
      auto& r = taken.front().request;
      result<void> ok;
      if (r.nat) {
        if constexpr (nat_firewall<F>)
          ok = backend.open_nat(r.granted);
        else
          ok = fail(error{errc::nat_unsupported});
      } else {
        ok = backend.open(r.granted);
      }
      out.push_back(answer{answer::kind::grant, std::move(r), std::move(ok)});
    } catch (...) {
      // A backend threw (std::bad_alloc): every grant of the job is answered as failed, so
      // none is lost. If even that cannot be recorded, `running` still goes back to 0.
      try {
        for (std::size_t i = out.size(); i < taken.size(); ++i)
          if (taken[i].what == job::kind::grant)
            out.push_back(answer{answer::kind::grant, std::move(taken[i].request), oom()});
      } catch (...) {
      }
      // A call that threw leaves its result empty: call() answers for it.
    }
  }

  F backend;
  async_options options;
  mutable std::mutex m;
  std::condition_variable work;  // the writer waits for jobs
  std::condition_variable idle;  // callers of call() wait for theirs
  knock::detail::fifo<job> queue;
  std::size_t queued_grants = 0;
  std::size_t running = 0;
  std::uint64_t last_hold = 0;  // the last `held` scope's number
  std::vector<job> staged;      // grants submitted under a `held` scope, not yet queued
  bool expiry_queued = false;
  bool stopping = false;
  // Inline (async_options::inline_when_instant): no writer thread yet; `kick` runs the queue on
  // the calling thread, `running_inline` while one does. Set once false, under the lock (read
  // without it first, so that a writer thread's owner pays no lock to wake it).
  std::atomic<bool> inline_mode{false};
  bool running_inline = false;
  std::vector<job> taken;   // the runner's (writer or inline): the job(s) it runs
  std::vector<answer> out;  // and their answers
  std::vector<answer> answers;
  std::vector<answer> spare_answers;  // `drain` hands the answers over in it, and gives it back
  std::vector<grant> batch_grants;    // the writer's: a batch for `open_batch`
  std::atomic<std::size_t> repairs{0};
  int event_fd = -1;
  int event_write_fd = -1;  // the pipe's other end, where there is no eventfd
  std::mutex join_m;
  std::thread writer;
};

}  // namespace detail
}  // namespace knock::firewall
