// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::replay::redis_link`: the connection of a Redis replay store
/// (knock/replay/redis_store.hpp) to the primary that holds its keys — found, set up, dropped, and
/// backed off from.
///
/// Endpoints are tried in order; with more than one, a server that says it is a replica (`ROLE`)
/// is skipped. With Sentinel (`redis_address::sentinel_master`) the endpoints are sentinels: each
/// is asked in order `SENTINEL get-master-addr-by-name <master>` until the address it gives answers
/// as a primary (`ROLE`); after a failure the next connection asks again, so after a failover the
/// store writes to the new primary. Sentinels are asked without `AUTH` (the password is the data
/// servers'). A new connection sends `AUTH` (when a password is set) and `SELECT` (a database other
/// than 0). Every step has the deadline (`timeout`), and after a connection that failed the link
/// waits `retry_after` before it tries again. What failed last is in `last_error()`, naming the
/// endpoint; the password is never in it.

#include <knock/core/bytes.hpp>
#include <knock/replay/redis_url.hpp>

#include <hiredis/hiredis.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <sys/time.h>

namespace knock::replay {

/// A connection to the primary of a `redis_address`, made on demand.
class redis_link {
 public:
  using clock = std::chrono::steady_clock;

  redis_link(redis_address address, secret_bytes password, std::chrono::milliseconds timeout,
             std::chrono::milliseconds retry_after)
      : address_{std::move(address)},
        password_{std::move(password)},
        timeout_{timeout},
        retry_after_{retry_after} {}
  redis_link(redis_link&& o) noexcept
      : address_{std::move(o.address_)},
        password_{std::move(o.password_)},
        timeout_{o.timeout_},
        retry_after_{o.retry_after_},
        context_{std::exchange(o.context_, nullptr)},
        current_{std::move(o.current_)},
        retry_at_{o.retry_at_},
        last_error_{std::move(o.last_error_)} {}
  redis_link& operator=(redis_link&&) = delete;
  ~redis_link() { drop(); }

  /// The open connection, or one made now; nullptr (and why, in `last_error()`) when none can
  /// be: every endpoint failed, or an earlier failure's back-off has not passed (`force` ignores
  /// it).
  redisContext* get(bool force = false) {
    if (context_ != nullptr) return context_;
    if (force) retry_at_ = {};
    if (clock::now() < retry_at_ || !connect_any()) return nullptr;
    return context_;
  }

  /// The open connection, or nullptr: never connects.
  redisContext* context() const noexcept { return context_; }
  /// Closes the connection (the next `get` makes another).
  void drop() noexcept {
    if (context_ != nullptr) redisFree(std::exchange(context_, nullptr));
  }
  /// Closes the connection and waits `retry_after` before the next try.
  void back_off() noexcept {
    drop();
    retry_at_ = clock::now() + retry_after_;
  }

  bool connected() const noexcept { return context_ != nullptr; }
  /// Sets the open connection's deadline for each read and write to `extra` more than the
  /// configured one (back to it with `extra` 0); false when it cannot be set.
  bool extend_deadline(std::chrono::milliseconds extra) noexcept {
    return context_ != nullptr &&
           redisSetTimeout(context_, to_timeval(timeout_ + extra)) == REDIS_OK;
  }
  /// The endpoint of the open connection (empty when none).
  std::string endpoint() const { return context_ != nullptr ? current_.describe() : std::string{}; }
  const std::string& last_error() const noexcept { return last_error_; }
  /// Records why the last command failed (`redis <endpoint>: <what>`).
  void failed(std::string_view what) {
    last_error_ = "redis " + endpoint() + ": " + std::string{what};
  }

  /// What hiredis says of a failed read or write on `c` (`err`: errno at the failure).
  static std::string io_error(const redisContext* c, int err) {
    if (c->err == REDIS_ERR_IO && (err == EAGAIN || err == EWOULDBLOCK))
      return "no reply within the deadline";
    if (c->err == REDIS_ERR_EOF) return "the server closed the connection";
    return c->errstr;
  }

 private:
  static timeval to_timeval(std::chrono::milliseconds ms) noexcept {
    return {static_cast<time_t>(ms.count() / 1000),
            static_cast<suseconds_t>(ms.count() % 1000 * 1000)};
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
    const timeval tv = to_timeval(timeout_);
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
    if (ok && !password_.empty()) {
      const auto pw = password_.view();
      ok = setup(c, e, "AUTH",
                 static_cast<redisReply*>(redisCommand(c, "AUTH %b", pw.data(), pw.size())));
    }
    if (ok && address_.db != 0)
      ok = setup(c, e, "SELECT",
                 static_cast<redisReply*>(redisCommand(c, "SELECT %u", unsigned{address_.db})));
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
    const std::string& master = address_.sentinel_master;
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
    const bool sentinel = !address_.sentinel_master.empty();
    for (const auto& e : address_.endpoints) {
      if (sentinel) {
        if (const auto primary = ask_sentinel(e); primary) {
          if (connect_to(*primary, true)) return true;
          last_error_ += " (the primary named by sentinel " + e.describe() + ")";
        }
      } else if (connect_to(e, address_.endpoints.size() > 1)) {
        return true;
      }
      why += (why.empty() ? "" : "; ") + last_error_;
    }
    last_error_ =
        sentinel ? "redis: no primary of '" + address_.sentinel_master + "' answered (" + why + ")"
                 : "redis: no endpoint answered (" + why + ")";
    back_off();
    return false;
  }

  redis_address address_;
  secret_bytes password_;
  std::chrono::milliseconds timeout_;
  std::chrono::milliseconds retry_after_;
  redisContext* context_ = nullptr;
  redis_endpoint current_;  // of the open connection
  clock::time_point retry_at_{};
  std::string last_error_;
};

}  // namespace knock::replay
