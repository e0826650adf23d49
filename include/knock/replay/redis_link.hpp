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
/// endpoint; the password is never in it. With `redis_address::tls` every connection (sentinels
/// too) is TLS (knock/replay/redis_socket.hpp); TLS files that cannot be loaded make every
/// connection fail with that reason.

#include <knock/core/bytes.hpp>
#include <knock/replay/redis_commands.hpp>
#include <knock/replay/redis_socket.hpp>
#include <knock/replay/redis_url.hpp>

#include <hiredis/hiredis.h>

#include <charconv>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace knock::replay {

/// A connection to the primary of a `redis_address`, made on demand.
class redis_link {
 public:
  using clock = std::chrono::steady_clock;

  redis_link(redis_address address, secret_bytes password, std::chrono::milliseconds timeout,
             std::chrono::milliseconds retry_after, const redis_tls_files& tls = {},
             std::optional<redis_tls_context> tls_context = std::nullopt)
      : address_{std::move(address)},
        password_{std::move(password)},
        timeout_{timeout},
        retry_after_{retry_after} {
    if (!address_.tls) return;
    if (tls_context) {
      tls_ = std::move(tls_context);
      return;
    }
    auto made = redis_tls_context::make(tls);
    if (made)
      tls_ = *std::move(made);
    else
      tls_error_ = "redis: " + made.error();
  }
  redis_link(redis_link&& o) noexcept = default;
  redis_link& operator=(redis_link&&) = delete;
  ~redis_link() = default;

  /// The open connection, or one made now; nullptr (and why, in `last_error()`) when none can
  /// be: every endpoint failed, or an earlier failure's back-off has not passed (`force` ignores
  /// it).
  redis_socket* get(bool force = false) {
    if (socket_) return &*socket_;
    if (force) retry_at_ = {};
    if (clock::now() < retry_at_ || !connect_any()) return nullptr;
    return &*socket_;
  }

  /// The open connection, or nullptr: never connects.
  redis_socket* socket() noexcept { return socket_ ? &*socket_ : nullptr; }
  /// Closes the connection (the next `get` makes another).
  void drop() noexcept { socket_.reset(); }
  /// Closes the connection and waits `retry_after` before the next try.
  void back_off() noexcept {
    drop();
    retry_at_ = clock::now() + retry_after_;
  }

  bool connected() const noexcept { return socket_.has_value(); }
  /// Sets the open connection's deadline for each read and write to `extra` more than the
  /// configured one (back to it with `extra` 0); false when there is no connection.
  bool extend_deadline(std::chrono::milliseconds extra) noexcept {
    if (!socket_) return false;
    socket_->set_timeout(timeout_ + extra);
    return true;
  }
  /// The endpoint of the open connection (empty when none).
  std::string endpoint() const { return socket_ ? current_.describe() : std::string{}; }
  const std::string& last_error() const noexcept { return last_error_; }
  /// Records why the last command failed (`redis <endpoint>: <what>`).
  void failed(std::string_view what) {
    last_error_ = "redis " + endpoint() + ": " + std::string{what};
  }

 private:
  // A command on the new connection `s` during set-up; false (and why, in `last_error_`) unless
  // Redis answered with something other than an error.
  bool setup(redis_socket& s, const redis_endpoint& e, std::string_view step,
             const redis_reply& reply, bool want_primary = false) {
    if (reply == nullptr) {
      last_error_ = e.describe() + ": " + std::string{step} + ": " + s.error();
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
    return ok;
  }

  // A connection to `e` within the deadline (TLS with `tls_`), or nullopt (and why, in
  // `last_error_`).
  std::optional<redis_socket> open(const redis_endpoint& e) {
    if (address_.tls && !tls_) {
      last_error_ = e.describe() + ": " + tls_error_;
      return std::nullopt;
    }
    auto s = redis_socket::connect(e, tls_ ? &*tls_ : nullptr, timeout_);
    if (s) return *std::move(s);
    last_error_ = e.describe() + ": " + s.error();
    return std::nullopt;
  }

  // One set-up command on `s`: its reply, or null (the connection failed).
  redis_reply ask(redis_socket& s, std::initializer_list<std::string_view> words,
                  bool secret = false) {
    redis_commands text{0};
    text.command(words);
    redis_reply r = s.command(text.text(), secret);
    if (secret) text.wipe();
    return r;
  }

  // Connects to `e`: AUTH, SELECT, and (`want_primary`) ROLE; true when it is the connection now.
  bool connect_to(const redis_endpoint& e, bool want_primary) {
    auto s = open(e);
    bool ok = s.has_value();
    if (ok && !password_.empty()) {
      const auto pw = password_.view();
      const std::string_view word{reinterpret_cast<const char*>(pw.data()), pw.size()};
      ok = setup(*s, e, "AUTH", ask(*s, {"AUTH", word}, true));
    }
    if (ok && address_.db != 0) {
      const std::string db = std::to_string(address_.db);
      ok = setup(*s, e, "SELECT", ask(*s, {"SELECT", db}));
    }
    if (ok && want_primary) ok = setup(*s, e, "ROLE", ask(*s, {"ROLE"}), true);
    if (!ok) return false;
    socket_.emplace(*std::move(s));
    current_ = e;
    return true;
  }

  // Asks the sentinel `at` where the primary is: its endpoint, or nullopt (and why).
  std::optional<redis_endpoint> ask_sentinel(const redis_endpoint& at) {
    auto s = open(at);
    if (!s) return std::nullopt;
    const std::string& master = address_.sentinel_master;
    const redis_reply reply = ask(*s, {"SENTINEL", "get-master-addr-by-name", master});
    std::optional<redis_endpoint> primary;
    if (reply == nullptr) {
      last_error_ = "sentinel " + at.describe() + ": " + s->error();
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
        last_error_ = "sentinel " + at.describe() + ": a port that is not one: " + std::string{p};
    } else if (reply->type == REDIS_REPLY_NIL) {
      last_error_ = "sentinel " + at.describe() + ": monitors no master named '" + master + "'";
    } else {
      last_error_ = "sentinel " + at.describe() + ": SENTINEL get-master-addr-by-name refused: " +
                    (reply->type == REDIS_REPLY_ERROR ? std::string{reply->str, reply->len}
                                                      : "an unexpected reply");
    }
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
  std::optional<redis_tls_context> tls_;  // with address_.tls, when its files could be loaded
  std::string tls_error_;                 // why they could not
  std::optional<redis_socket> socket_;
  redis_endpoint current_;  // of the open connection
  clock::time_point retry_at_{};
  std::string last_error_;
};

}  // namespace knock::replay
