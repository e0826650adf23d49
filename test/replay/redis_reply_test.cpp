// SPDX-License-Identifier: MIT
// The connection's reply slots (knock/replay/redis_reply.hpp) build the same replies as hiredis's
// own functions, for every RESP type, nested arrays, text longer than a slot and more replies out
// than slots; a reply broken off mid-array gives back what it had built. No server: bytes fed to
// the parser.
#include <knock/replay/redis_reply.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {
using namespace knock::replay;

struct reader_free {
  void operator()(redisReader* r) const noexcept { redisReaderFree(r); }
};
using reader_ptr = std::unique_ptr<redisReader, reader_free>;

// The reply tree as text: type, then the value, the elements in brackets.
std::string show(const redisReply* r) {
  if (r == nullptr) return "null";
  std::string out = std::to_string(r->type);
  out += ':';
  switch (r->type) {
    case REDIS_REPLY_INTEGER: out += std::to_string(r->integer); break;
    case REDIS_REPLY_NIL: out += "nil"; break;
    case REDIS_REPLY_ARRAY:
      out += '[';
      for (std::size_t i = 0; i < r->elements; ++i) {
        if (i != 0) out += ',';
        out += show(r->element[i]);
      }
      out += ']';
      break;
    default:
      EXPECT_EQ(r->str[r->len], '\0') << "text ends with a NUL, as hiredis's";
      out += std::to_string(r->len);
      out += '\'';
      out.append(r->str, r->len);
      out += '\'';
  }
  return out;
}

// Every reply in `resp`, from hiredis's default functions.
std::vector<std::string> with_hiredis(std::string_view resp) {
  reader_ptr r{redisReaderCreate()};
  redisReaderFeed(r.get(), resp.data(), resp.size());
  std::vector<std::string> out;
  for (void* got = nullptr; redisReaderGetReply(r.get(), &got) == REDIS_OK && got != nullptr;) {
    out.push_back(show(static_cast<redisReply*>(got)));
    freeReplyObject(got);
  }
  return out;
}

// Thirteen replies: each type, empty and nil arrays, nested ones, text longer than a slot.
std::string all_kinds() {
  const std::string long_text(300, 'x');
  std::string out =
      "+OK\r\n$-1\r\n:42\r\n:-7\r\n-ERR wrong number of arguments\r\n$5\r\nhello\r\n"
      "$0\r\n\r\n*0\r\n*-1\r\n*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6379\r\n"
      "*3\r\n:1\r\n*2\r\n+a\r\n$-1\r\n-E\r\n$300\r\n";
  out.append(long_text).append("\r\n-").append(long_text).append("\r\n");
  return out;
}

TEST(redis_reply, slots_build_what_hiredis_builds) {
  const std::string resp = all_kinds();
  detail::reply_pool pool;
  reader_ptr r{pool.make_reader()};
  ASSERT_TRUE(r);
  redisReaderFeed(r.get(), resp.data(), resp.size());
  std::vector<std::string> got;
  for (void* p = nullptr; redisReaderGetReply(r.get(), &p) == REDIS_OK && p != nullptr;) {
    const redis_reply reply{static_cast<redisReply*>(p)};
    got.push_back(show(reply.get()));
    EXPECT_GE(pool.in_use(), 1u);
  }
  const auto want = with_hiredis(resp);
  ASSERT_EQ(want.size(), 13u);
  EXPECT_EQ(got, want);
  EXPECT_EQ(pool.in_use(), 0u) << "every slot given back";
}

// More replies out at once than the pool has slots: the rest come from the heap, and each goes
// back where it came from.
TEST(redis_reply, more_replies_than_slots_take_the_heap) {
  detail::reply_pool pool;
  reader_ptr r{pool.make_reader()};
  std::string many;
  for (int i = 0; i < 10; ++i) many.append(":").append(std::to_string(i)).append("\r\n");
  redisReaderFeed(r.get(), many.data(), many.size());
  std::vector<redis_reply> held;
  for (void* p = nullptr; redisReaderGetReply(r.get(), &p) == REDIS_OK && p != nullptr;)
    held.emplace_back(static_cast<redisReply*>(p));
  ASSERT_EQ(held.size(), 10u);
  EXPECT_EQ(pool.in_use(), detail::reply_pool::slots);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(held[static_cast<std::size_t>(i)]->integer, i);
  held.erase(held.begin());  // a pooled one goes back; the next reply takes its slot
  redisReaderFeed(r.get(), "+x\r\n", 4);
  void* p = nullptr;
  ASSERT_EQ(redisReaderGetReply(r.get(), &p), REDIS_OK);
  held.emplace_back(static_cast<redisReply*>(p));
  EXPECT_EQ(pool.in_use(), detail::reply_pool::slots);
  held.clear();
  EXPECT_EQ(pool.in_use(), 0u);
}

// Feeds `resp` to `r` and asks for a reply: what the parser said, and the reply (null: none yet).
std::pair<int, void*> feed_and_ask(redisReader* r, std::string_view resp) {
  redisReaderFeed(r, resp.data(), resp.size());
  void* p = nullptr;
  const int said = redisReaderGetReply(r, &p);
  return {said, p};
}

// A protocol error inside an array: the parser fails, and the half-built array is given back
// through the pool's free function (what a leak checker, or in_use, would see).
TEST(redis_reply, an_array_broken_off_is_given_back) {
  detail::reply_pool pool;
  {
    reader_ptr r{pool.make_reader()};
    EXPECT_EQ(feed_and_ask(r.get(), "*3\r\n:1\r\n$2\r\nab\r\n!nonsense\r\n"),
              std::make_pair(REDIS_ERR, static_cast<void*>(nullptr)));
    EXPECT_EQ(pool.in_use(), 0u);
  }
  {
    reader_ptr r{pool.make_reader()};  // a reply half read when the parser goes
    EXPECT_EQ(feed_and_ask(r.get(), "*2\r\n:1\r\n"),
              std::make_pair(REDIS_OK, static_cast<void*>(nullptr)));
  }
  EXPECT_EQ(pool.in_use(), 0u);
}

}  // namespace
