// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::replay::memory_store`: a bounded replay store with O(1) lookups that keeps a compact
/// fingerprint of each key, and takes memory as keys come rather than up front.
///
/// Entries sit in a ring in the order they were added (which is also the order they expire, as
/// every entry lives the same span) and in an open-addressing index over the ring. An entry is 10
/// bytes: 48 bits of the key (keys are SHA-256 digests, so any 48 bits are uniformly spread) and
/// the expiry in 32 bits (seconds since the epoch; exact until 2106, `never_expires` kept as
/// such). The index holds a 4-byte slot per entry (its ring position and 6 more bits of the
/// fingerprint, so a probe rarely reads the ring to rule a slot out) and is at most three quarters
/// full: at most 15.4 bytes a key, 31 bytes a packet for the server's two keys a packet. At most
/// 2^26 - 2 keys (KNOCK_REPLAY_CAPACITY allows 2^24 packets, 2^25 keys). The ring starts
/// with `initial_slots` and doubles, up to the capacity, when it is full (amortized O(1); the only
/// allocation after construction).
///
/// A fingerprint cannot give a false "first": a replayed key has the replayed fingerprint. Two
/// different keys share one with probability n / 2^48 for n keys held (1 in 2 billion packets at
/// 131,072 keys), and the newcomer is then refused as a replay: a refusal, never an acceptance.
/// An entry leaves only once expired; a store full of live entries refuses new ones (fails closed)
/// and says so.

#include <knock/core/error.hpp>
#include <knock/replay/concept.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <vector>

namespace knock::replay {

/// Bounded in-memory replay store. Models knock::replay_policy.
class memory_store {
 public:
  using role = knock::role::replay;
  static constexpr std::size_t default_capacity = std::size_t{1} << 17;
  /// Keys the ring has room for before it first grows.
  static constexpr std::size_t initial_slots = 256;

  /// A store that holds up to `capacity` live keys: room for `initial_slots` now, more as they
  /// come (see `bytes()`).
  explicit memory_store(std::size_t capacity = default_capacity)
      : capacity_{std::clamp<std::size_t>(capacity, 1, position_mask - 1)} {
    arrays a{std::min(capacity_, initial_slots)};
    take(a);
  }

  /// True when `key` was remembered and its entry has not expired at `now` (a look that records
  /// nothing; the server asks `remember`).
  bool contains(const replay_key& key, epoch_seconds now) const noexcept {
    const std::uint32_t at = find(fingerprint_of(key));
    return at != empty && live(at - 1, clock(now));
  }

  /// Starts loading the index slot where a probe for `key` begins (a hint: changes nothing).
  void prefetch(const replay_key& key) const noexcept {
    __builtin_prefetch(ring_.index.data() + home(fingerprint_of(key)));
  }

  /// The expiry of the entry held for `key`, live or not yet dropped; nullopt when none is held.
  std::optional<epoch_seconds> expiry_of(const replay_key& key) const noexcept {
    const std::uint32_t at = find(fingerprint_of(key));
    if (at == empty) return std::nullopt;
    const std::uint32_t e = ring_.expiry(at - 1);
    return e == forever ? never_expires : static_cast<epoch_seconds>(e);
  }

  /// Remembers `key` until `expires` unless it is held and live at `now` (`sighting::replay`),
  /// first dropping the entries expired at `now`. `errc::replay_store_full` (no message, no
  /// allocation) when every slot the capacity allows holds an entry that could still be
  /// replayed. O(1); allocates only to grow the ring (amortized), and a growth that cannot get
  /// its memory fails closed the same way.
  result<sighting> remember(const replay_key& key, epoch_seconds expires,
                            epoch_seconds now) noexcept {
    forget_expired(now);
    const std::uint64_t fp = fingerprint_of(key);
    if (const std::uint32_t at = find(fp); at != empty) {
      if (live(at - 1, clock(now))) return sighting::replay;
      ring_.ring[at - 1].expires =
          stored(expires);  // expired, not dropped yet (behind a later one)
      return sighting::first;
    }
    if (count_ == slots() && !grow()) return fail(errc::replay_store_full);
    const std::size_t pos = wrap(head_ + count_);
    ring_.set(pos, fp, stored(expires));
    ++count_;
    place(pos);
    return sighting::first;
  }

  /// Drops the entries expired at `now`, oldest first.
  void forget_expired(epoch_seconds now) noexcept {
    const std::uint32_t t = clock(now);
    while (count_ != 0 && !live(head_, t)) {
      erase_from_index(head_);
      head_ = wrap(head_ + 1);
      --count_;
    }
  }

  std::size_t size() const noexcept { return count_; }
  /// The most live keys it holds (then it fails closed).
  std::size_t capacity() const noexcept { return capacity_; }
  /// Bytes its ring and index take now.
  std::size_t bytes() const noexcept { return bytes_for(slots()); }
  /// Bytes they take once grown to the capacity.
  std::size_t bytes_at_capacity() const noexcept { return bytes_for(capacity_); }

 private:
  static constexpr std::uint32_t empty = 0;  // index slots hold ring position + 1
  static constexpr std::uint32_t forever = std::numeric_limits<std::uint32_t>::max();

  // One ring entry: 48 bits of fingerprint and a 32-bit expiry, packed into 10 bytes.
  struct [[gnu::packed]] record {
    std::uint32_t low = 0;
    std::uint16_t high = 0;
    std::uint32_t expires = 0;
  };
  static_assert(sizeof(record) == 10);
  // An index slot: the ring position + 1 in the low 26 bits (0: empty), 6 bits of the fingerprint
  // above them, so that a probe rarely has to look at the ring to rule a slot out.
  static constexpr int position_bits = 26;
  static constexpr std::uint32_t position_mask = (std::uint32_t{1} << position_bits) - 1;
  static std::uint32_t tag_of(std::uint64_t fp) noexcept {
    return static_cast<std::uint32_t>(fp >> 42) << position_bits;  // the top 6 of the 48 bits
  }

  struct arrays {
    std::vector<record> ring;
    std::vector<std::uint32_t> index;
    explicit arrays(std::size_t slots) : ring(slots), index(index_size(slots)) {}
    std::uint64_t fingerprint(std::size_t pos) const noexcept {
      return std::uint64_t{ring[pos].high} << 32 | ring[pos].low;
    }
    std::uint32_t expiry(std::size_t pos) const noexcept { return ring[pos].expires; }
    void set(std::size_t pos, std::uint64_t fp, std::uint32_t e) noexcept {
      ring[pos].low = static_cast<std::uint32_t>(fp);
      ring[pos].high = static_cast<std::uint16_t>(fp >> 32);
      ring[pos].expires = e;
    }
  };

  // At most three quarters full.
  static std::size_t index_size(std::size_t slots) noexcept { return slots + slots / 3 + 1; }
  static std::size_t bytes_for(std::size_t slots) noexcept {
    return slots * sizeof(record) + index_size(slots) * sizeof(std::uint32_t);
  }

  static std::uint64_t fingerprint_of(const replay_key& k) noexcept {
    std::uint64_t fp = 0;
    std::memcpy(&fp, k.bytes.data(), 6);
    return fp;
  }
  // Seconds as stored: `never_expires` apart, clamped to 0..2^32-2.
  static std::uint32_t stored(epoch_seconds e) noexcept {
    if (e == never_expires) return forever;
    return static_cast<std::uint32_t>(std::clamp<epoch_seconds>(e, 0, forever - 1));
  }
  static std::uint32_t clock(epoch_seconds now) noexcept {
    return static_cast<std::uint32_t>(std::clamp<epoch_seconds>(now, 0, forever - 1));
  }
  bool live(std::size_t pos, std::uint32_t now) const noexcept {
    const std::uint32_t e = ring_.expiry(pos);
    return e == forever || e > now;
  }

  std::size_t slots() const noexcept { return ring_.ring.size(); }
  // A ring position from `at` < 2 × slots() (a compare, not a division: the size is any number).
  std::size_t wrap(std::size_t at) const noexcept { return at >= slots() ? at - slots() : at; }
  std::size_t home(std::uint64_t fp) const noexcept {
    // Multiplicative mixing; the high 32 bits times the size, shifted back, map onto any size.
    const std::uint64_t h = (fp * 0x9E3779B97F4A7C15ull) >> 32;
    return static_cast<std::size_t>((h * ring_.index.size()) >> 32);
  }
  std::size_t next(std::size_t slot) const noexcept {
    return slot + 1 == ring_.index.size() ? 0 : slot + 1;
  }

  // The ring position + 1 of `fp`'s entry, or `empty`.
  std::uint32_t find(std::uint64_t fp) const noexcept {
    const std::uint32_t tag = tag_of(fp);
    for (std::size_t slot = home(fp);; slot = next(slot)) {
      const std::uint32_t v = ring_.index[slot];
      if (v == empty) return empty;
      if ((v & ~position_mask) == tag && ring_.fingerprint((v & position_mask) - 1) == fp)
        return v & position_mask;
    }
  }
  void place(std::size_t pos) noexcept {
    const std::uint64_t fp = ring_.fingerprint(pos);
    std::size_t slot = home(fp);
    while (ring_.index[slot] != empty) slot = next(slot);
    ring_.index[slot] = tag_of(fp) | static_cast<std::uint32_t>(pos + 1);
  }

  // Linear probing without tombstones: after emptying a slot, shift back the entries whose probe
  // sequence crossed it.
  void erase_from_index(std::size_t ring_pos) noexcept {
    auto& index = ring_.index;
    std::size_t hole = home(ring_.fingerprint(ring_pos));
    while ((index[hole] & position_mask) != ring_pos + 1) hole = next(hole);
    for (std::size_t slot = next(hole);; slot = next(slot)) {
      const std::uint32_t at = index[slot];
      if (at == empty) break;
      const std::size_t want = home(ring_.fingerprint((at & position_mask) - 1));
      // Move `at` into the hole unless its home lies cyclically in (hole, slot].
      const bool stays =
          hole <= slot ? (hole < want && want <= slot) : (hole < want || want <= slot);
      if (!stays) {
        index[hole] = at;
        hole = slot;
      }
    }
    index[hole] = empty;
  }

  // Doubles the ring (up to the capacity), keeping the entries in their order; false when it is
  // that large already or the memory is not there (the store then fails closed, unchanged).
  bool grow() noexcept {
    if (slots() >= capacity_) return false;
    try {
      arrays bigger{std::min(capacity_, 2 * slots())};
      for (std::size_t i = 0; i < count_; ++i) {
        const std::size_t from = wrap(head_ + i);
        bigger.ring[i] = ring_.ring[from];
      }
      take(bigger);
      for (std::size_t i = 0; i < count_; ++i) place(i);
      return true;
    } catch (...) {  // std::bad_alloc
      return false;
    }
  }
  void take(arrays& a) noexcept {
    std::swap(ring_, a);
    head_ = 0;
  }

  std::size_t capacity_;
  arrays ring_{0};
  std::size_t head_ = 0;
  std::size_t count_ = 0;
};

static_assert(replay_policy<memory_store>);

}  // namespace knock::replay
