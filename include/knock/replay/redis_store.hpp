// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::replay::redis_store`: replay memory shared by several servers (a pair of gateways)
/// through Redis, so a packet accepted by one is refused as `replayed` by the others.
///
/// One round trip per packet: for each of its keys `SET <prefix><64 hex digits> 1 NX EX <seconds>`
/// — atomic insert-if-absent in Redis, so of two gateways racing with one packet exactly one gets
/// `OK` — pipelined (`remember_all`: the commands go out in one write, the replies are read
/// after). The key lives as long as the server asked (`expires - now`, the replay window); with
/// packet aging off (`never_expires`) it has no TTL. The server asks only for packets whose HMAC
/// verified and that are inside the time window (knock/server.hpp): garbage, forgeries and stale
/// packets never reach Redis.
///
/// Fails closed: when no endpoint answers within the deadline (`timeout`, for connecting and for
/// each reply), or Redis answers any of a packet's commands with an error (`NOAUTH`, `READONLY`,
/// `OOM`), `remember` returns `errc::replay_store_unavailable` with a message naming the endpoint
/// and what happened, and the server refuses the packet. After a failed connection or a timeout it
/// waits `retry_after` before it tries again (packets meanwhile are refused at once, without
/// waiting on the network); a connection Redis closed (a restart) is made again at once, once. It
/// resumes by itself.
///
/// Endpoints are tried in order; with more than one, a server that says it is a replica (`ROLE`)
/// is skipped, and a `READONLY` answer (a failover) drops the connection so the next packet finds
/// the new primary. With Sentinel (`redis_address::sentinel_master`) the endpoints are sentinels:
/// each is asked in order `SENTINEL get-master-addr-by-name <master>` until the address it gives
/// answers as a primary (`ROLE`); after a failure or a `READONLY` the next connection asks again,
/// so after a failover the store writes to the new primary. Sentinels are asked without `AUTH`
/// (the password is the data servers'). The password (`AUTH`) comes from the caller (a file, never
/// a command line) and is never in a message. No TLS: hiredis 0.14 (Debian 12) has none (see
/// redis_url.hpp). hiredis writes with write(2): a program using the store ignores SIGPIPE
/// (knock-server does), or a connection Redis reset could end it.
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
#include <charconv>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
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
        current_{std::move(o.current_)},
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
    return remember_all(std::span{&key, 1}, expires, now);
  }

  /// `remember` for each of `keys`, pipelined: one write, one round trip. `replay` when any was
  /// held (Redis set all the others); `errc::replay_store_unavailable` when any command failed.
  result<sighting> remember_all(std::span<const replay_key> keys, epoch_seconds expires,
                                epoch_seconds now) noexcept {
    if (keys.empty()) return sighting::first;
    if (std::all_of(keys.begin(), keys.end(),
                    [&](const replay_key& k) { return local_.contains(k, now); }))
      return sighting::replay;
    try {
      return ask(keys, expires, now);
    } catch (...) {  // std::bad_alloc from a message: the reason still says it
      disconnect();
      return fail(errc::replay_store_unavailable);
    }
  }

  /// True when the local filter knows `key` (Redis said so earlier): no round trip. False says
  /// nothing: Redis may hold it.
  bool contains(const replay_key& key, epoch_seconds now) const noexcept {
    return local_.contains(key, now);
  }

  /// Keys held by the local filter (Redis holds the rest).
  std::size_t size() const noexcept { return local_.size(); }
  /// True while a connection is open (the last command succeeded or none was sent since).
  bool connected() const noexcept { return context_ != nullptr; }
  /// The endpoint of the open connection (empty when none).
  std::string endpoint() const { return context_ != nullptr ? current_.describe() : std::string{}; }
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

  // The key's name in Redis, in `command_`: prefix + 64 hex digits.
  void name(const replay_key& key) {
    static constexpr char hex[] = "0123456789abcdef";
    command_.assign(options_.prefix);
    for (byte b : key.bytes) command_.push_back(hex[b >> 4]), command_.push_back(hex[b & 15]);
  }

  // Sends a `SET ... NX` per key (queued by hiredis, written at the first read) and reads the
  // replies in order. Caches in the local filter what Redis answered.
  result<sighting> ask(std::span<const replay_key> keys, epoch_seconds expires, epoch_seconds now) {
    const long long ttl = expires == never_expires ? 0 : std::max<long long>(1, expires - now);
    for (int attempt = 0;; ++attempt) {
      const bool fresh = context_ == nullptr;
      if (fresh && (clock::now() < retry_at_ || !connect_any())) return fail(down());
      for (const replay_key& key : keys) {
        name(key);
        const int queued = ttl != 0 ? redisAppendCommand(context_, "SET %b 1 NX EX %lld",
                                                         command_.data(), command_.size(), ttl)
                                    : redisAppendCommand(context_, "SET %b 1 NX", command_.data(),
                                                         command_.size());
        if (queued != REDIS_OK) {
          last_error_ = "redis " + endpoint() + ": cannot queue SET: " + context_->errstr;
          disconnect();
          return fail(down());
        }
      }
      sighting seen = sighting::first;
      bool refused = false, drop = false;
      for (std::size_t i = 0; i < keys.size(); ++i) {
        void* got = nullptr;
        if (redisGetReply(context_, &got) != REDIS_OK || got == nullptr) {
          const int err = errno;
          // A connection Redis closed (a restart) is made again at once, once, when nothing was
          // answered yet; a timeout, or a connection that fails as soon as it is made, backs off.
          const bool closed =
              context_->err == REDIS_ERR_EOF ||
              (context_->err == REDIS_ERR_IO && err != EAGAIN && err != EWOULDBLOCK);
          last_error_ = "redis " + endpoint() + ": " + io_error(context_, err);
          disconnect();
          if (closed && !fresh && attempt == 0 && i == 0) break;
          back_off();
          return fail(down());
        }
        auto* reply = static_cast<redisReply*>(got);
        if (reply->type == REDIS_REPLY_STATUS || reply->type == REDIS_REPLY_NIL) {  // +OK, or NX
          if (reply->type == REDIS_REPLY_NIL) seen = sighting::replay;
          (void)local_.remember(keys[i], expires, now);  // full: it only stops caching
        } else if (!refused) {  // the first refusal says why; the other replies are still read
          refused = true;
          const std::string what = reply->type == REDIS_REPLY_ERROR
                                       ? std::string{reply->str, reply->len}
                                       : "an unexpected reply type " + std::to_string(reply->type);
          last_error_ = "redis " + endpoint() + ": SET refused: " + what;
          drop = what.starts_with("READONLY") || what.starts_with("NOAUTH");  // find another
        }
        freeReplyObject(reply);
      }
      if (context_ == nullptr) continue;  // closed before any reply: once more, reconnected
      if (drop) disconnect();
      if (refused) return fail(down());
      return seen;
    }
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

  // A connection to `e` within the deadline, or nullptr (and why, in `last_error_`).
  redisContext* open(const redis_endpoint& e) {
    const timeval tv = to_timeval(options_.timeout);
    redisContext* c = e.unix_path.empty() ? redisConnectWithTimeout(e.host.c_str(), e.port, tv)
                                          : redisConnectUnixWithTimeout(e.unix_path.c_str(), tv);
    if (c != nullptr && c->err == 0 && redisSetTimeout(c, tv) == REDIS_OK) return c;
    last_error_ = e.describe() + ": " + (c != nullptr ? c->errstr : "out of memory");
    if (c != nullptr) redisFree(c);
    return nullptr;
  }

  // Connects to `e`: AUTH, SELECT, and (`want_primary`) ROLE; true when it is the connection now.
  bool connect_to(const redis_endpoint& e, bool want_primary) {
    redisContext* c = open(e);
    bool ok = c != nullptr;
    if (ok && !options_.password.empty()) {
      const auto pw = options_.password.view();
      ok = setup(c, e, "AUTH",
                 static_cast<redisReply*>(redisCommand(c, "AUTH %b", pw.data(), pw.size())));
    }
    if (ok && options_.address.db != 0)
      ok = setup(
          c, e, "SELECT",
          static_cast<redisReply*>(redisCommand(c, "SELECT %u", unsigned{options_.address.db})));
    if (ok && want_primary)
      ok = setup(c, e, "ROLE", static_cast<redisReply*>(redisCommand(c, "ROLE")), true);
    if (ok) {
      context_ = c;
      current_ = e;
      return true;
    }
    if (c != nullptr) redisFree(c);
    return false;
  }

  // Asks the sentinel `s` where the primary is: its endpoint, or nullopt (and why).
  std::optional<redis_endpoint> ask_sentinel(const redis_endpoint& s) {
    redisContext* c = open(s);
    if (c == nullptr) return std::nullopt;
    const std::string& master = options_.address.sentinel_master;
    auto* reply = static_cast<redisReply*>(
        redisCommand(c, "SENTINEL get-master-addr-by-name %b", master.data(), master.size()));
    std::optional<redis_endpoint> primary;
    if (reply == nullptr) {
      last_error_ = "sentinel " + s.describe() + ": " + io_error(c, errno);
    } else if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
               reply->element[0]->type == REDIS_REPLY_STRING &&
               reply->element[1]->type == REDIS_REPLY_STRING) {
      unsigned port = 0;
      const std::string_view p{reply->element[1]->str, reply->element[1]->len};
      const auto r = std::from_chars(p.data(), p.data() + p.size(), port);
      if (r.ec == std::errc{} && r.ptr == p.data() + p.size() && port > 0 && port <= 65535)
        primary =
            redis_endpoint{.host = std::string{reply->element[0]->str, reply->element[0]->len},
                           .port = static_cast<std::uint16_t>(port),
                           .unix_path = {}};
      else
        last_error_ = "sentinel " + s.describe() + ": a port that is not one: " + std::string{p};
    } else if (reply->type == REDIS_REPLY_NIL) {
      last_error_ = "sentinel " + s.describe() + ": monitors no master named '" + master + "'";
    } else {
      last_error_ = "sentinel " + s.describe() + ": SENTINEL get-master-addr-by-name refused: " +
                    (reply->type == REDIS_REPLY_ERROR ? std::string{reply->str, reply->len}
                                                      : "an unexpected reply");
    }
    if (reply != nullptr) freeReplyObject(reply);
    redisFree(c);
    return primary;
  }

  // Tries each endpoint in order: connect, AUTH, SELECT, and (with several) ROLE. With Sentinel,
  // asks each sentinel in order for the primary and connects to its answer (ROLE checked: a
  // sentinel may not have seen a failover yet).
  bool connect_any() {
    std::string why;
    const bool sentinel = !options_.address.sentinel_master.empty();
    for (const auto& e : options_.address.endpoints) {
      if (sentinel) {
        if (const auto primary = ask_sentinel(e); primary) {
          if (connect_to(*primary, true)) return true;
          last_error_ += " (the primary named by sentinel " + e.describe() + ")";
        }
      } else if (connect_to(e, options_.address.endpoints.size() > 1)) {
        return true;
      }
      why += (why.empty() ? "" : "; ") + last_error_;
    }
    last_error_ = sentinel ? "redis: no primary of '" + options_.address.sentinel_master +
                                 "' answered (" + why + ")"
                           : "redis: no endpoint answered (" + why + ")";
    back_off();
    return false;
  }

  void disconnect() noexcept {
    if (context_ != nullptr) redisFree(std::exchange(context_, nullptr));
  }

  redis_options options_;
  memory_store local_;
  redisContext* context_ = nullptr;
  redis_endpoint current_;  // of the open connection
  clock::time_point retry_at_{};
  std::string last_error_;
  std::uint64_t failures_ = 0;
  std::string command_;  // the key being asked about: prefix + hex
};

static_assert(replay_policy<redis_store>);
static_assert(batch_replay_store<redis_store>);

}  // namespace knock::replay
