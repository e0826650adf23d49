// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::replay::redis_store`: replay memory shared by several servers (a pair of gateways)
/// through Redis, so a packet accepted by one is refused as `replayed` by the others.
///
/// One round trip per key: `SET <prefix><64 hex digits> 1 NX EX <seconds>` — atomic
/// insert-if-absent in Redis, so of two gateways racing with one packet exactly one gets `OK`.
/// The key lives as long as the server asked (`expires - now`, the replay window); with packet
/// aging off (`never_expires`) it has no TTL. The server asks only for packets whose HMAC verified
/// (knock/server.hpp): garbage and forgeries never reach Redis.
///
/// Fails closed: when no endpoint answers within the deadline (`timeout`, for connecting and for
/// each reply), or Redis answers with an error (`NOAUTH`, `READONLY`, `OOM`), `remember` returns
/// `errc::replay_store_unavailable` with a message naming the endpoint and what happened, and the
/// server refuses the packet. After a failed connection or a timeout it waits `retry_after` before
/// it tries again (packets meanwhile are refused at once, without waiting on the network); a
/// connection Redis closed (a restart) is made again at once, once. It resumes by itself.
///
/// Endpoints are tried in order; with more than one, a server that says it is a replica (`ROLE`)
/// is skipped, and a `READONLY` answer (a failover) drops the connection so the next packet finds
/// the new primary. The password (`AUTH`) comes from the caller (a file, never a command line) and
/// is never in a message. No TLS: hiredis 0.14 (Debian 12) has none (see redis_url.hpp). hiredis
/// writes with write(2): a program using the store ignores SIGPIPE (knock-server does), or a
/// connection Redis reset could end it.
///
/// A local `memory_store` sits in front as a first filter: a key Redis already answered for is
/// refused from memory without a round trip. It holds only what Redis said, so it never accepts
/// anything Redis would refuse; when it is full it just stops caching.

#include <knock/core/bytes.hpp>
#include <knock/core/error.hpp>
#include <knock/replay/concept.hpp>
#include <knock/replay/memory_store.hpp>
#include <knock/replay/redis_url.hpp>

#include <hiredis/hiredis.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include <sys/time.h>

namespace knock::replay {

/// How a `redis_store` reaches Redis.
struct redis_options {
  redis_address address;                        ///< endpoints (tried in order) and database
  secret_bytes password;                        ///< `AUTH` when not empty
  std::chrono::milliseconds timeout{50};        ///< connect, and each reply
  std::chrono::milliseconds retry_after{1000};  ///< after a failure, before the next try
  std::string prefix = "knock:replay:";         ///< of every key
  std::size_t local_capacity = memory_store::default_capacity;  ///< the first filter's keys
};

/// Replay store on Redis. Models knock::replay_policy.
class redis_store {
 public:
  using role = knock::role::replay;
  using clock = std::chrono::steady_clock;

  /// Does not connect: the first `remember` (or `connect()`) does.
  explicit redis_store(redis_options o) : options_{std::move(o)}, local_{options_.local_capacity} {
    command_.reserve(options_.prefix.size() + 64);
  }
  redis_store(redis_store&& o) noexcept
      : options_{std::move(o.options_)},
        local_{std::move(o.local_)},
        context_{std::exchange(o.context_, nullptr)},
        current_{o.current_},
        retry_at_{o.retry_at_},
        last_error_{std::move(o.last_error_)},
        failures_{o.failures_},
        command_{std::move(o.command_)} {}
  redis_store& operator=(redis_store&&) = delete;
  ~redis_store() { disconnect(); }

  /// Connects now (whatever the back-off says): which endpoint answered, or why none did.
  result<void> connect() {
    retry_at_ = {};
    if (context_ == nullptr && !connect_any()) return fail(unavailable());
    return {};
  }

  /// `SET <prefix><hex key> 1 NX EX <expires - now>`: `first` on `OK`, `replay` on nil;
  /// `errc::replay_store_unavailable` (with the endpoint and why) when Redis cannot tell.
  result<sighting> remember(const replay_key& key, epoch_seconds expires,
                            epoch_seconds now) noexcept {
    if (local_.contains(key, now)) return sighting::replay;
    try {
      auto seen = ask(key, expires, now);
      if (seen) (void)local_.remember(key, expires, now);  // full: it only stops caching
      return seen;
    } catch (...) {  // std::bad_alloc from a message: the reason still says it
      disconnect();
      return fail(errc::replay_store_unavailable);
    }
  }

  /// Keys held by the local filter (Redis holds the rest).
  std::size_t size() const noexcept { return local_.size(); }
  /// True while a connection is open (the last command succeeded or none was sent since).
  bool connected() const noexcept { return context_ != nullptr; }
  /// The endpoint of the open connection (empty when none).
  std::string endpoint() const {
    return context_ != nullptr ? options_.address.endpoints[current_].describe() : std::string{};
  }
  /// Why the last command or connection failed (empty when nothing failed yet).
  const std::string& last_error() const noexcept { return last_error_; }
  /// Calls that could not tell (each one a refused packet), since construction.
  std::uint64_t failures() const noexcept { return failures_; }

 private:
  static timeval to_timeval(std::chrono::milliseconds ms) noexcept {
    return {static_cast<time_t>(ms.count() / 1000),
            static_cast<suseconds_t>(ms.count() % 1000 * 1000)};
  }

  error unavailable() const { return {errc::replay_store_unavailable, last_error_}; }

  result<sighting> ask(const replay_key& key, epoch_seconds expires, epoch_seconds now) {
    static constexpr char hex[] = "0123456789abcdef";
    command_.assign(options_.prefix);
    for (byte b : key.bytes) command_.push_back(hex[b >> 4]), command_.push_back(hex[b & 15]);
    const long long ttl = expires == never_expires ? 0 : std::max<long long>(1, expires - now);
    for (int attempt = 0;; ++attempt) {
      const bool fresh = context_ == nullptr;
      if (fresh && (clock::now() < retry_at_ || !connect_any())) return fail(down());
      auto* reply = static_cast<redisReply*>(
          ttl != 0
              ? redisCommand(context_, "SET %b 1 NX EX %lld", command_.data(), command_.size(), ttl)
              : redisCommand(context_, "SET %b 1 NX", command_.data(), command_.size()));
      if (reply == nullptr) {
        const int err = errno;
        // A connection Redis closed (a restart) is made again at once, once; a timeout, or a
        // connection that fails as soon as it is made, backs off.
        const bool closed = context_->err == REDIS_ERR_EOF ||
                            (context_->err == REDIS_ERR_IO && err != EAGAIN && err != EWOULDBLOCK);
        last_error_ = "redis " + endpoint() + ": " + io_error(context_, err);
        disconnect();
        if (closed && !fresh && attempt == 0) continue;
        back_off();
        return fail(down());
      }
      const auto answer = read_set_reply(reply);
      freeReplyObject(reply);
      return answer;
    }
  }

  result<sighting> read_set_reply(const redisReply* reply) {
    if (reply->type == REDIS_REPLY_STATUS) return sighting::first;  // +OK
    if (reply->type == REDIS_REPLY_NIL) return sighting::replay;    // NX: already there
    std::string what = reply->type == REDIS_REPLY_ERROR
                           ? std::string{reply->str, reply->len}
                           : "an unexpected reply type " + std::to_string(reply->type);
    last_error_ = "redis " + endpoint() + ": SET refused: " + what;
    if (what.starts_with("READONLY") || what.starts_with("NOAUTH")) disconnect();  // find another
    return fail(down());
  }

  error down() {
    ++failures_;
    return unavailable();
  }
  void back_off() { retry_at_ = clock::now() + options_.retry_after; }

  static std::string io_error(const redisContext* c, int err) {
    if (c->err == REDIS_ERR_IO && (err == EAGAIN || err == EWOULDBLOCK))
      return "no reply within the deadline";
    if (c->err == REDIS_ERR_EOF) return "the server closed the connection";
    return c->errstr;
  }

  // A command on the new connection `c` during set-up; false (and why, in `last_error_`) unless
  // Redis answered with something other than an error.
  bool setup(redisContext* c, const redis_endpoint& e, std::string_view step, redisReply* reply,
             bool want_primary = false) {
    if (reply == nullptr) {
      last_error_ = e.describe() + ": " + std::string{step} + ": " + io_error(c, errno);
      return false;
    }
    bool ok = reply->type != REDIS_REPLY_ERROR;
    if (!ok) last_error_ = e.describe() + ": " + std::string{step} + " refused: " + reply->str;
    if (ok && want_primary) {
      ok = reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
           reply->element[0]->type == REDIS_REPLY_STRING &&
           std::string_view{reply->element[0]->str, reply->element[0]->len} == "master";
      if (!ok) last_error_ = e.describe() + ": a replica, not the primary (ROLE)";
    }
    freeReplyObject(reply);
    return ok;
  }

  // Tries each endpoint in order: connect, AUTH, SELECT, and (with several) ROLE.
  bool connect_any() {
    std::string why;
    const timeval tv = to_timeval(options_.timeout);
    for (std::size_t i = 0; i < options_.address.endpoints.size(); ++i) {
      const auto& e = options_.address.endpoints[i];
      redisContext* c = e.unix_path.empty() ? redisConnectWithTimeout(e.host.c_str(), e.port, tv)
                                            : redisConnectUnixWithTimeout(e.unix_path.c_str(), tv);
      bool ok = c != nullptr && c->err == 0 && redisSetTimeout(c, tv) == REDIS_OK;
      if (!ok) last_error_ = e.describe() + ": " + (c != nullptr ? c->errstr : "out of memory");
      if (ok && !options_.password.empty()) {
        const auto pw = options_.password.view();
        ok = setup(c, e, "AUTH",
                   static_cast<redisReply*>(redisCommand(c, "AUTH %b", pw.data(), pw.size())));
      }
      if (ok && options_.address.db != 0)
        ok = setup(
            c, e, "SELECT",
            static_cast<redisReply*>(redisCommand(c, "SELECT %u", unsigned{options_.address.db})));
      if (ok && options_.address.endpoints.size() > 1)
        ok = setup(c, e, "ROLE", static_cast<redisReply*>(redisCommand(c, "ROLE")), true);
      if (ok) {
        context_ = c;
        current_ = i;
        return true;
      }
      if (c != nullptr) redisFree(c);
      why += (why.empty() ? "" : "; ") + last_error_;
    }
    last_error_ = "redis: no endpoint answered (" + why + ")";
    back_off();
    return false;
  }

  void disconnect() noexcept {
    if (context_ != nullptr) redisFree(std::exchange(context_, nullptr));
  }

  redis_options options_;
  memory_store local_;
  redisContext* context_ = nullptr;
  std::size_t current_ = 0;
  clock::time_point retry_at_{};
  std::string last_error_;
  std::uint64_t failures_ = 0;
  std::string command_;  // the key being asked about: prefix + hex
};

static_assert(replay_policy<redis_store>);

}  // namespace knock::replay
