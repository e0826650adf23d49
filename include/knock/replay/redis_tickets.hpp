// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::replay::redis_tickets`: what a Redis replay store (knock/replay/redis_store.hpp) has
/// sent and been answered, packet by packet, with no I/O of its own.
///
/// - `queued()`: the packets whose commands wait in the connection's output buffer, in the order
///   they were appended — the order their replies come back in.
/// - the answers not taken yet: `take(ticket)` hands one to whoever waits for it (`settle_now`),
///   `list_refused(pipeline, ...)` a pipeline's at its end; `release(ticket)` drops one nobody
///   will ask for (its packet was refused anyway).
///
/// Room for a packet's answer is made when it is queued, so answering never allocates.

#include <knock/core/error.hpp>
#include <knock/core/result.hpp>
#include <knock/core/time.hpp>
#include <knock/replay/concept.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace knock::replay {

/// A Redis store's packets in flight and their answers.
class redis_tickets {
 public:
  /// A packet's keys whose commands are in the connection's buffer, replies not read yet.
  struct entry {
    std::uint32_t ticket = 0;
    std::uint64_t pipeline = 0;  ///< the pipeline it belongs to; 0: none (`remember_all`)
    std::array<replay_key, 2> keys{};
    std::uint8_t count = 0;  ///< keys used
    epoch_seconds expires = 0, now = 0;
    bool wanted = true;  ///< false: released, its answer is dropped
  };

  /// Queues `keys` (a packet's: at most two are kept) under a new ticket: its entry. Throws
  /// std::bad_alloc (nothing is queued then).
  const entry& queue(std::span<const replay_key> keys, epoch_seconds expires, epoch_seconds now,
                     std::uint64_t pipeline) {
    entry e;
    e.ticket = ++last_ == 0 ? ++last_ : last_;  // 0 names no ticket
    e.pipeline = pipeline;
    e.count = static_cast<std::uint8_t>(std::min<std::size_t>(keys.size(), e.keys.size()));
    std::copy_n(keys.begin(), e.count, e.keys.begin());
    e.expires = expires;
    e.now = now;
    answered_.reserve(answered_.size() + queued_.size() + 1);  // `answer` never allocates
    queued_.push_back(e);
    return queued_.back();
  }

  const std::vector<entry>& queued() const noexcept { return queued_; }

  /// The answer for `e`, one of `queued()` (kept unless `e` was released): what Redis said, or
  /// why it could not tell.
  void answer(const entry& e, sighting seen) noexcept {
    if (e.wanted) answered_.emplace_back(e.ticket, e.pipeline, seen);
  }
  void answer(const entry& e, const error& why) noexcept {
    if (e.wanted) answered_.emplace_back(e.ticket, e.pipeline, copy(why));
  }
  /// The first `n` of `queued()` have their answers: they leave the queue.
  void answered_first(std::size_t n) noexcept {
    queued_.erase(queued_.begin(), queued_.begin() + static_cast<std::ptrdiff_t>(n));
  }
  /// Every queued packet answered with `why`, and the queue emptied: how many there were.
  std::size_t fail_queued(const error& why) noexcept {
    const std::size_t n = queued_.size();
    for (const entry& e : queued_) answer(e, why);
    queued_.clear();
    return n;
  }

  /// Answers kept so far (`refuse_new_since` takes this as a mark).
  std::size_t answers() const noexcept { return answered_.size(); }
  /// Each answer kept since the mark `from` that says `first` now says `why`: how many changed.
  std::size_t refuse_new_since(std::size_t from, const error& why) noexcept {
    std::size_t n = 0;
    for (std::size_t i = from; i < answered_.size(); ++i)
      if (answered_[i].got && *answered_[i].got == sighting::first)
        answered_[i].got = fail(copy(why)), ++n;
    return n;
  }

  /// The answer for `ticket`, taken; `replay_store_unavailable` when there is none (refused:
  /// closed).
  result<sighting> take(std::uint32_t ticket) noexcept {
    const auto it = std::find_if(answered_.begin(), answered_.end(),
                                 [&](const kept& a) { return a.ticket == ticket; });
    if (it == answered_.end()) return fail(errc::replay_store_unavailable);
    result<sighting> got = std::move(it->got);
    answered_.erase(it);
    return got;
  }

  /// Nobody will ask for `ticket`'s answer (its packet was refused anyway): not kept.
  void release(std::uint32_t ticket) noexcept {
    // From the back: the packet released is nearly always the one queued last (same decision).
    for (auto e = queued_.rbegin(); e != queued_.rend(); ++e)
      if (e->ticket == ticket) return void(e->wanted = false);
    std::erase_if(answered_, [&](const kept& a) { return a.ticket == ticket; });
  }

  /// Takes `pipeline`'s answers: appends to `refused` each ticket whose keys were held
  /// (`replayed`) or could not be told (the answer's error). False when they could not all be
  /// listed (no memory).
  bool list_refused(std::uint64_t pipeline, std::vector<replay_refusal>& refused) noexcept {
    bool listed = true;
    for (auto& a : answered_) {
      if (a.pipeline != pipeline) continue;
      try {
        if (!a.got)
          refused.push_back({a.ticket, std::move(a.got.error())});
        else if (*a.got == sighting::replay)
          refused.push_back({a.ticket, error{errc::replayed}});
      } catch (...) {  // std::bad_alloc
        listed = false;
      }
    }
    std::erase_if(answered_, [&](const kept& a) { return a.pipeline == pipeline; });
    return listed;
  }

 private:
  struct kept {  // an answer not taken yet, made in place (g++ 12 at -O1 sees a moved-from
                 // result's error as maybe uninitialized)
    kept(std::uint32_t t, std::uint64_t p, sighting seen) noexcept
        : ticket{t}, pipeline{p}, got{seen} {}
    kept(std::uint32_t t, std::uint64_t p, error why) noexcept
        : ticket{t}, pipeline{p}, got{fail(std::move(why))} {}
    std::uint32_t ticket;
    std::uint64_t pipeline;
    result<sighting> got;
  };

  // `why`, or its code alone when its message cannot be copied (no memory).
  static error copy(const error& why) noexcept {
    try {
      return why;
    } catch (...) {
      return error{why.code};
    }
  }

  std::vector<entry> queued_;
  std::vector<kept> answered_;
  std::uint32_t last_ = 0;
};

}  // namespace knock::replay
