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
/// | `commit_batching_store`:              | a batch: `commit` only notes a sync is owed, `end_batch()`  | daemon           |
/// | `s.begin_batch()`, `s.end_batch()`    | (`result<void>`) writes and syncs at once; the owner lets   |                  |
/// |                                       | no grant of the batch through before it has succeeded       |                  |
/// | `batch_replay_store`:                 | `result<sighting>`: `remember` for each of `keys` at once   | server           |
/// | `s.remember_all(keys, expires, now)`  | (a networked store: one round trip). `first`: no key was    |                  |
/// | noexcept, `keys` a                    | held and all are now kept; `replay`: at least one was held, |                  |
/// | `std::span<const replay_key>`         | and every one not held is now kept; an error as `remember`  |                  |
/// |                                       | (some keys may have been kept: the packet is refused).      |                  |
/// |                                       | Without it the server calls `remember` once per key         |                  |
/// |                                       | (`knock::remember_all` below).                              |                  |
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
/// networked store sends as one batch (Redis: pipelined `SET`s, one round trip per packet).
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
#include <span>

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

/// A durable store that commits a batch of packets at once (`begin_batch()`, `end_batch()`): in
/// between, `commit` defers to `end_batch`, so whoever opens the batch must hold the batch's grants
/// back until `end_batch` has succeeded (and refuse them if it fails).
template <class P>
concept commit_batching_store = durable_replay_store<P> && requires(P& s) {
  { s.begin_batch() }
  noexcept;
  { s.end_batch() }
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

/// Remembers each of `keys` in `s` (see `batch_replay_store`): the store's own `remember_all` when
/// it has one, else `remember` once per key, every key even after a replay. `first` when no key
/// was held; the first error stops it.
template <replay_policy P>
result<sighting> remember_all(P& s, std::span<const replay_key> keys, epoch_seconds expires,
                              epoch_seconds now) noexcept {
  if constexpr (batch_replay_store<P>) {
    return s.remember_all(keys, expires, now);
  } else {
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
