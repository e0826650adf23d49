// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// The ReplayStore policy family: remembers packets already accepted, so a captured packet cannot
/// be used again.
// clang-format off
///
/// | requirement                           | meaning                                                     | caller           |
/// |---------------------------------------|-------------------------------------------------------------|------------------|
/// | `using role = knock::role::replay`    | declares the family                                         | concepts         |
/// | `s.remember(key, expires, now)`       | atomic insert-if-absent: `result<sighting>`. `first`: `key` | server           |
/// | noexcept                              | was not held (live at `now`) and is now kept until          |                  |
/// |                                       | `expires`; `replay`: it was held, nothing changed; an error:|                  |
/// |                                       | cannot tell (`replay_store_unavailable`), full of live      |                  |
/// |                                       | entries (`replay_store_full`) or could not keep it          |                  |
/// |                                       | (`io_failed`), with a message naming the resource. May drop |                  |
/// |                                       | entries expired at `now`, never a live one. O(1) in memory. |                  |
/// | `s.size()` noexcept                   | entries held                                                | observers, tests |
///
/// | optional (named concept)              | meaning                                                     | caller           |
/// |---------------------------------------|-------------------------------------------------------------|------------------|
/// | `durable_replay_store`: `s.commit()`  | `result<void>`: makes what was remembered durable. The      | server, daemon   |
/// |                                       | server calls it once per accepted packet, before the grant  |                  |
/// | `commit_batching_store`:              | a batch: `commit` only notes a sync is owed, `end_batch(m)` | daemon           |
/// | `m = s.begin_batch()`, `s.end_batch(m)`| (`result<void>`) writes and syncs at once; the owner lets  |                  |
/// |                                       | no grant of the batch through before it has succeeded       |                  |
/// | `batch_replay_store`:                 | `result<sighting>`: `remember` for each of `keys` at once   | server           |
/// | `s.remember_all(keys, expires, now)`  | (a networked store: one round trip). `first`: no key was    |                  |
/// | noexcept, `keys` a                    | held and all are now kept; `replay`: at least one was held, |                  |
/// | `std::span<const replay_key>`         | and every one not held is now kept; an error as `remember`  |                  |
/// |                                       | (some keys may have been kept: the packet is refused).      |                  |
/// |                                       | Without it the server calls `remember` once per key         |                  |
/// |                                       | (`knock::remember_all` below).                              |                  |
/// | `pipelining_replay_store`:            | a networked store that answers a batch of packets in one    | server, daemon   |
/// | `s.begin_pipeline()`,                 | round trip. Between `begin_pipeline` and `end_pipeline` on  |                  |
/// | `s.pipelining()`,                     | a thread, `remember_later` queues the keys and gives a      |                  |
/// | `s.remember_later(keys, expires, now)`| ticket (`replay_promise`) instead of an answer; `settle_now`|                  |
/// | `s.settle_now(ticket)`,               | sends what is queued and answers one ticket at once (a      |                  |
/// | `s.release(ticket)`,                  | packet that acts without the firewall's queue: a command);  |                  |
/// | `s.end_pipeline(id, refused)`         | `release` drops the answer of a packet refused anyway;      |                  |
/// |                                       | `end_pipeline` sends the rest and lists this batch's tickets|                  |
/// |                                       | whose keys were held or could not be told. Whoever opens    |                  |
/// |                                       | the pipeline holds the batch's grants back (each carries    |                  |
/// |                                       | its ticket) and refuses those listed.                       |                  |
/// | `replay_lookup`:                      | `bool`, noexcept, records nothing: `key` is known (live at  | server           |
/// | `s.contains(key, now)`                | `now`) without asking anyone (a networked store: its local  |                  |
/// |                                       | filter). The server refuses a known payload as `replayed`   |                  |
/// |                                       | before decrypting it (a replayed GnuPG packet costs no      |                  |
/// |                                       | private-key work); `false` only means "ask remember".       |                  |
// clang-format on
///
/// One call answers "seen before?" and records the key, so a networked store does it in one round
/// trip (Redis: `SET key 1 NX EX ttl`) and two servers sharing it cannot both accept one packet;
/// the keys of one packet (its payload's and its message's) go in one `remember_all`, which a
/// networked store sends as one batch (Redis: pipelined `SET`s, one round trip per packet); and
/// the packets of a capture's batch, in a `pipelining_replay_store`'s pipeline, go in one round
/// trip for the whole batch, their grants held back until the answers are in.
/// A store that cannot answer says so, and the server refuses the packet (fails closed) with that
/// reason. Keys are canonical (see knock/server.hpp for how they are made): one packet, one key,
/// however it was spelled on the wire. Times are seconds since the epoch on the server's clock.

#include <knock/core/bytes.hpp>
#include <knock/core/error.hpp>
#include <knock/core/result.hpp>
#include <knock/core/role.hpp>
#include <knock/core/time.hpp>

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace knock {

/// A canonical packet identity: a SHA-256 digest.
struct replay_key {
  std::array<byte, 32> bytes{};
  friend bool operator==(const replay_key&, const replay_key&) = default;
};

/// What a store found when asked to remember a key.
enum class sighting : bool {
  first,  ///< not held before: now remembered
  replay  ///< already held and live: a replay (nothing changed)
};

template <class P>
concept replay_policy = has_role<P, role::replay> &&
    requires(P& s, const P& cs, const replay_key& k, epoch_seconds t) {
  { s.remember(k, t, t) }
  noexcept->std::same_as<result<sighting>>;
  { cs.size() }
  noexcept->std::same_as<std::size_t>;
};

/// A ReplayStore that can make what it remembered durable (`commit()`, e.g. an fsync): the server
/// calls it once per accepted packet, before the firewall opens anything.
template <class P>
concept durable_replay_store = replay_policy<P> && requires(P& s) {
  { s.commit() } -> std::same_as<result<void>>;
};

/// A durable store that commits a batch of packets at once (`auto mark = begin_batch()`,
/// `end_batch(mark)`): in between, `commit` defers to `end_batch`, so whoever opens the batch must
/// hold the batch's grants back until `end_batch` has succeeded (and refuse them if it fails). The
/// mark lets the end of one batch know of a failure that struck it while batches overlapped
/// (worker threads): another batch's end may have written, and lost, this one's lines.
template <class P>
concept commit_batching_store = durable_replay_store<P> && requires(P& s) {
  { s.begin_batch() }
  noexcept;
  { s.end_batch(s.begin_batch()) }
  noexcept->std::same_as<result<void>>;
};

/// A ReplayStore that remembers several keys in one call (`remember_all`): a networked store makes
/// it one round trip. The server remembers a packet's keys with it when the store has it.
template <class P>
concept batch_replay_store = replay_policy<P> &&
    requires(P& s, std::span<const replay_key> keys, epoch_seconds t) {
  { s.remember_all(keys, t, t) }
  noexcept->std::same_as<result<sighting>>;
};

/// A ReplayStore that can say, without recording anything or a round trip, that a key is known
/// (`contains`): the server's cheap first look at an authenticated payload, before decryption.
template <class P>
concept replay_lookup = replay_policy<P> &&
    requires(const P& s, const replay_key& k, epoch_seconds t) {
  { s.contains(k, t) }
  noexcept->std::same_as<bool>;
};

/// A pipelining store's promise about a packet's keys (see `pipelining_replay_store`): `ticket`
/// names the answer `end_pipeline` gives; 0 when the answer is known already (`seen`: the local
/// filter held a key).
struct replay_promise {
  std::uint32_t ticket = 0;
  sighting seen = sighting::first;
};

/// A ticket of a pipeline whose keys were held (`errc::replayed`) or could not be told
/// (`errc::replay_store_unavailable`, with the store's words): its packet is refused.
struct replay_refusal {
  std::uint32_t ticket = 0;
  error why;
};

/// A ReplayStore that answers the packets of a batch in one round trip: inside a pipeline (one
/// per thread, `begin_pipeline` .. `end_pipeline`), `remember_later` queues a packet's keys and
/// promises an answer; `end_pipeline` sends everything queued at once and lists the tickets that
/// were not `first`. The server grants a pipelined packet only through a deferring firewall whose
/// grants the pipeline's owner holds back (firewall::async's `held`), each grant carrying its
/// ticket; a packet that would act at once (a command message) asks `settle_now` first.
template <class P>
concept pipelining_replay_store = replay_policy<P> &&
    requires(P& s, const P& cs, std::span<const replay_key> keys, epoch_seconds t,
             std::uint32_t ticket, std::vector<replay_refusal>& refused) {
  { s.begin_pipeline() }
  noexcept->std::same_as<std::uint64_t>;
  { cs.pipelining() }
  noexcept->std::same_as<bool>;
  { s.remember_later(keys, t, t) }
  noexcept->std::same_as<result<replay_promise>>;
  { s.settle_now(ticket) }
  noexcept->std::same_as<result<sighting>>;
  { s.release(ticket) }
  noexcept;
  { s.end_pipeline(std::uint64_t{}, refused) }
  noexcept;
};

/// Remembers each of `keys` in `s` (see `batch_replay_store`): the store's own `remember_all` when
/// it has one, else `remember` once per key, every key even after a replay. `first` when no key
/// was held; the first error stops it.
template <replay_policy P>
result<sighting> remember_all(P& s, std::span<const replay_key> keys, epoch_seconds expires,
                              epoch_seconds now) noexcept {
  if constexpr (batch_replay_store<P>) {
    return s.remember_all(keys, expires, now);
  } else {
    // A store with an index in memory (memory_store, file_store) starts fetching every key's
    // place in it first: the second key's cache miss then overlaps the first key's work (its log
    // line) instead of following it.
    if constexpr (requires(const replay_key& k) { s.prefetch(k); })
      for (const replay_key& k : keys) s.prefetch(k);
    sighting seen = sighting::first;
    for (const replay_key& k : keys) {
      auto r = s.remember(k, expires, now);
      if (!r) return r;
      if (*r == sighting::replay) seen = sighting::replay;
    }
    return seen;
  }
}

}  // namespace knock
