// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::replay::redis_reply`: a reply read by hiredis's parser, built without touching the heap.
///
/// hiredis's default reply functions `calloc` a `redisReply` for every reply and `malloc` its text:
/// two allocations for each `+OK` of a packet's `SET NX`, the only ones left on the Redis store's
/// path. `detail::reply_pool` gives the parser its own functions
/// (`redisReaderCreateWithFunctions`): a reply takes one of the pool's few slots, its text (up to
/// `inline_text` bytes) is copied into the slot, and giving it back frees nothing. What does not
/// fit — a long error, an array's element list, a reply while every slot is out — goes to the heap,
/// as before, and is given back there. The replies are plain `redisReply`s, read as hiredis's are;
/// `redis_reply` owns one and gives it back to where it came from.
///
/// One pool per connection (`redis_socket`), used by one thread at a time, as the connection is;
/// a reply must be given back before its pool goes (a `redis_reply` in the scope that read it).
/// hiredis 1.x adds RESP3 reply types and another signature: there the default functions are used.

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <array>
#include <cstddef>
#include <cstring>
#include <memory>
#include <new>

namespace knock::replay {

namespace detail {

class reply_pool;

/// A reply and the room for its text. Standard layout, the reply first: a `redisReply*` this pool
/// made is the address of its slot.
struct reply_slot {
  static constexpr std::size_t inline_text = 64;
  redisReply reply;
  reply_pool* pool;  // null: the slot itself is on the heap
  char text[inline_text];
};

/// Gives `r` (a reply of a pooled reader, with what it holds) back: to its pool, or the heap.
void give_back(redisReply* r) noexcept;

class reply_pool {
 public:
  static constexpr std::size_t slots = 4;  // a reply is read, used and given back, one at a time

  reply_pool() = default;
  reply_pool(const reply_pool&) = delete;
  reply_pool& operator=(const reply_pool&) = delete;

  /// A parser whose replies come from this pool (which must outlive it); null without memory.
  ///
  /// Its input buffer: hiredis appends each read to it, cuts off what was parsed once that is
  /// 1 KiB, and by default frees it whenever it is empty with more than 16 KiB to spare — to grow
  /// it again at the next read. With `maxbuf` 0 it is never freed: it grows to the most a read
  /// and what came before it took, and stays so.
  redisReader* make_reader() noexcept {
#if HIREDIS_MAJOR == 0
    static redisReplyObjectFunctions functions{make_string, make_array, make_integer, make_nil,
                                               free_object};
    redisReader* r = redisReaderCreateWithFunctions(&functions);
    if (r == nullptr) return nullptr;
    r->privdata = this;
#else
    redisReader* r = redisReaderCreate();
    if (r == nullptr) return nullptr;
#endif
    r->maxbuf = 0;
    return r;
  }

  /// Slots out now (for tests).
  std::size_t in_use() const noexcept {
    std::size_t n = 0;
    for (const bool u : used_) n += u;
    return n;
  }

 private:
  friend void give_back(redisReply* r) noexcept;

  reply_slot* take() noexcept {
    for (std::size_t i = 0; i < slots; ++i)
      if (!used_[i]) {
        used_[i] = true;
        slots_[i].pool = this;
        return &slots_[i];
      }
    return nullptr;
  }
  void put(const reply_slot* s) noexcept {
    used_[static_cast<std::size_t>(s - slots_.data())] = false;
  }

  // hiredis's reply functions: a reply of `task`'s type, linked into its parent array, or null
  // (hiredis then reports "Out of memory").
  static reply_slot* slot_for(const redisReadTask* task, int type) noexcept {
    auto* pool = static_cast<reply_pool*>(task->privdata);
    reply_slot* s = pool != nullptr ? pool->take() : nullptr;
    if (s == nullptr) {
      s = new (std::nothrow) reply_slot;
      if (s == nullptr) return nullptr;
      s->pool = nullptr;
    }
    s->reply = redisReply{};
    s->reply.type = type;
    return s;
  }
  static void* linked(const redisReadTask* task, reply_slot* s) noexcept {
    if (task->parent != nullptr) {
      auto* parent = static_cast<redisReply*>(task->parent->obj);
      parent->element[task->idx] = &s->reply;
    }
    return &s->reply;
  }
  static void* make_string(const redisReadTask* task, char* text, std::size_t size) {
    reply_slot* s = slot_for(task, task->type);
    if (s == nullptr) return nullptr;
    char* to = s->text;
    if (size >= reply_slot::inline_text && (to = new (std::nothrow) char[size + 1]) == nullptr) {
      give_back(&s->reply);
      return nullptr;
    }
    std::memcpy(to, text, size);
    to[size] = '\0';
    s->reply.str = to;
    s->reply.len = size;
    return linked(task, s);
  }
  static void* make_array(const redisReadTask* task, int elements) {
    reply_slot* s = slot_for(task, REDIS_REPLY_ARRAY);
    if (s == nullptr) return nullptr;
    if (elements > 0) {
      s->reply.element = new (std::nothrow) redisReply* [static_cast<std::size_t>(elements)] {};
      if (s->reply.element == nullptr) {
        give_back(&s->reply);
        return nullptr;
      }
      s->reply.elements = static_cast<std::size_t>(elements);
    }
    return linked(task, s);
  }
  static void* make_integer(const redisReadTask* task, long long value) {
    reply_slot* s = slot_for(task, REDIS_REPLY_INTEGER);
    if (s == nullptr) return nullptr;
    s->reply.integer = value;
    return linked(task, s);
  }
  static void* make_nil(const redisReadTask* task) {
    reply_slot* s = slot_for(task, REDIS_REPLY_NIL);
    return s == nullptr ? nullptr : linked(task, s);
  }
  static void free_object(void* r) { give_back(static_cast<redisReply*>(r)); }

  std::array<reply_slot, slots> slots_{};
  std::array<bool, slots> used_{};
};

inline void give_back(redisReply* r) noexcept {
  if (r == nullptr) return;
#if HIREDIS_MAJOR == 0
  auto* s = reinterpret_cast<reply_slot*>(r);  // the reply is the slot's first member
  if (r->element != nullptr) {
    for (std::size_t i = 0; i < r->elements; ++i) give_back(r->element[i]);
    delete[] r->element;
  }
  if (r->str != nullptr && r->str != s->text) delete[] r->str;
  if (s->pool != nullptr)
    s->pool->put(s);
  else
    delete s;
#else
  freeReplyObject(r);
#endif
}

struct reply_give_back {
  void operator()(redisReply* r) const noexcept { give_back(r); }
};

}  // namespace detail

/// A reply of `redis_socket`, given back when it goes.
using redis_reply = std::unique_ptr<redisReply, detail::reply_give_back>;

}  // namespace knock::replay
