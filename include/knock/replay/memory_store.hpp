// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::replay::memory_store`: a bounded replay store with O(1) lookups and no allocation after
/// construction. Entries sit in a ring in the order they were added (which is also the order they
/// expire, as every entry lives the same span) and in an open-addressing index over the ring. An
/// entry leaves only once expired; a store full of live entries refuses new ones (fails closed) and
/// says so.

#include <knock/core/error.hpp>
#include <knock/replay/concept.hpp>

#include <bit>
#include <cstdint>
#include <cstring>
#include <vector>

namespace knock::replay {

/// Bounded in-memory replay store. Models knock::replay_policy.
class memory_store {
 public:
  using role = knock::role::replay;
  static constexpr std::size_t default_capacity = std::size_t{1} << 17;

  /// A store that holds up to `capacity` live entries (all memory is taken here).
  explicit memory_store(std::size_t capacity = default_capacity)
      : ring_(capacity == 0 ? 1 : capacity), index_(std::bit_ceil(ring_.size() * 2)) {}

  /// True when `key` was remembered and its entry has not expired at `now` (a look that records
  /// nothing; the server asks `remember`).
  bool contains(const replay_key& key, epoch_seconds now) const noexcept {
    const std::uint32_t at = find(key);
    return at != empty && ring_[at - 1].expires > now;
  }

  /// Remembers `key` until `expires` unless it is held and live at `now` (`sighting::replay`),
  /// first dropping the entries expired at `now`. `errc::replay_store_full` (no message, no
  /// allocation) when every slot holds an entry that could still be replayed. O(1),
  /// allocation-free.
  result<sighting> remember(const replay_key& key, epoch_seconds expires,
                            epoch_seconds now) noexcept {
    forget_expired(now);
    if (const std::uint32_t at = find(key); at != empty) {
      auto& e = ring_[at - 1];
      if (e.expires > now) return sighting::replay;
      e.expires = expires;  // expired, not dropped yet (it sits behind a longer-lived entry)
      return sighting::first;
    }
    if (count_ == ring_.size()) return fail(errc::replay_store_full);
    const std::size_t pos = (head_ + count_) % ring_.size();
    ring_[pos] = {key, expires};
    ++count_;
    std::size_t slot = home(key);
    while (index_[slot] != empty) slot = next(slot);
    index_[slot] = static_cast<std::uint32_t>(pos + 1);
    return sighting::first;
  }

  /// Drops the entries expired at `now`, oldest first.
  void forget_expired(epoch_seconds now) noexcept {
    while (count_ != 0 && ring_[head_].expires <= now) {
      erase_from_index(head_);
      head_ = (head_ + 1) % ring_.size();
      --count_;
    }
  }

  std::size_t size() const noexcept { return count_; }
  std::size_t capacity() const noexcept { return ring_.size(); }

  /// Visits every live entry as `f(key, expires)`, oldest first (used to persist the store).
  template <class F>
  void for_each(F&& f) const {
    for (std::size_t i = 0; i < count_; ++i) {
      const auto& e = ring_[(head_ + i) % ring_.size()];
      f(e.key, e.expires);
    }
  }

 private:
  struct entry {
    replay_key key;
    epoch_seconds expires = 0;
  };
  static constexpr std::uint32_t empty = 0;  // index slots hold ring position + 1

  std::size_t home(const replay_key& k) const noexcept {
    std::uint64_t h;  // keys are SHA-256 digests: any 8 bytes are uniformly spread
    std::memcpy(&h, k.bytes.data(), sizeof h);
    return h & (index_.size() - 1);
  }
  std::size_t next(std::size_t slot) const noexcept { return (slot + 1) & (index_.size() - 1); }

  std::uint32_t find(const replay_key& key) const noexcept {
    for (std::size_t slot = home(key);; slot = next(slot)) {
      const std::uint32_t at = index_[slot];
      if (at == empty || ring_[at - 1].key == key) return at;
    }
  }

  // Linear probing without tombstones: after emptying a slot, shift back the entries whose probe
  // sequence crossed it.
  void erase_from_index(std::size_t ring_pos) noexcept {
    std::size_t hole = home(ring_[ring_pos].key);
    while (index_[hole] != ring_pos + 1) hole = next(hole);
    for (std::size_t slot = next(hole);; slot = next(slot)) {
      const std::uint32_t at = index_[slot];
      if (at == empty) break;
      const std::size_t want = home(ring_[at - 1].key);
      // Move `at` into the hole unless its home lies cyclically in (hole, slot].
      const bool stays =
          hole <= slot ? (hole < want && want <= slot) : (hole < want || want <= slot);
      if (!stays) {
        index_[hole] = at;
        hole = slot;
      }
    }
    index_[hole] = empty;
  }

  std::vector<entry> ring_;
  std::vector<std::uint32_t> index_;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
};

static_assert(replay_policy<memory_store>);

}  // namespace knock::replay
