// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::detail::fifo`: a first-in first-out queue in one vector, which keeps its memory once
/// grown (not API).
///
/// Why not `std::deque`: libstdc++'s deque puts 512 bytes in a node, so elements larger than 256
/// bytes (the firewall writer's jobs: 328) get a node each — a `malloc` per push and a `free` per
/// pop, on every grant. Here a pop only moves the head; the vector is compacted (its live tail
/// moved to the front) when a push finds it full and at least half of it already taken, so each
/// element is moved at most once more than a deque would move it, and nothing is allocated once
/// the vector has grown to the queue's working size. Once it empties, memory beyond `keep`
/// elements (grown by a backlog) goes back to the heap rather than staying resident.

#include <cstddef>
#include <type_traits>
#include <utility>
#include <vector>

namespace knock::detail {

template <class T>
class fifo {
  static_assert(std::is_nothrow_move_assignable_v<T>, "compaction moves elements and cannot fail");

 public:
  bool empty() const noexcept { return head_ == items_.size(); }
  std::size_t size() const noexcept { return items_.size() - head_; }
  T& front() noexcept { return items_[head_]; }
  const T& front() const noexcept { return items_[head_]; }

  /// Elements it has room for before it must compact or grow.
  std::size_t capacity() const noexcept { return items_.capacity(); }

  /// May throw `std::bad_alloc` (the vector grows); the queue is then unchanged.
  void push_back(T&& v) {
    if (items_.size() == items_.capacity() && head_ != 0 && 2 * head_ >= items_.size()) compact();
    items_.push_back(std::move(v));
  }
  /// Drops the front element (left moved-from until the next compaction or reuse).
  void pop_front() noexcept {
    if (++head_ == items_.size()) clear();
  }
  /// A queue that keeps the memory of up to `keep` elements once it empties (more, grown by a
  /// backlog, goes back to the heap then).
  explicit fifo(std::size_t keep = 256) noexcept : keep_{keep} {}

  /// Empties the queue; its memory stays, up to `keep` elements' worth.
  void clear() noexcept {
    items_.clear();
    head_ = 0;
    if (items_.capacity() > keep_) std::vector<T>{}.swap(items_);
  }

 private:
  void compact() noexcept {
    std::size_t to = 0;
    for (std::size_t from = head_; from < items_.size(); ++from)
      items_[to++] = std::move(items_[from]);
    items_.erase(items_.begin() + static_cast<std::ptrdiff_t>(to), items_.end());
    head_ = 0;
  }

  std::vector<T> items_;
  std::size_t head_ = 0;
  std::size_t keep_;
};

}  // namespace knock::detail
