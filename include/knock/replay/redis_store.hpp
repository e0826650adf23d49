// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::replay::redis_store`: replay memory shared by several servers (a pair of gateways)
/// through Redis, so a packet accepted by one is refused as `replayed` by the others.
///
/// For each of a packet's keys, `SET <prefix><64 hex digits> 1 NX EX <seconds>` — atomic
/// insert-if-absent in Redis, so of two gateways racing with one packet exactly one gets `OK`. The
/// key lives as long as the server asked (`expires - now`, the replay window); with packet aging
/// off (`never_expires`) it has no TTL. The server asks only for packets whose HMAC verified and
/// that are inside the time window (knock/server.hpp): garbage, forgeries and stale packets never
/// reach Redis.
///
/// Round trips: `remember_all` sends a packet's keys in one write and reads the replies (one round
/// trip per packet). Inside a pipeline (`pipelining_replay_store`: the daemon opens one around each
/// batch of datagrams its capture hands over) `remember_later` only queues the commands, and
/// `end_pipeline` sends the whole batch's at once: one round trip per batch. Several threads may
/// each have a pipeline open on one store (KNOCK_WORKERS, calls serialised by the caller); the
/// first to send sends everything queued, and keeps the others' answers for their `end_pipeline`.
///
/// Fails closed: when no endpoint answers within the deadline (`timeout`, for connecting and for
/// each reply), or Redis answers any of a packet's commands with an error (`NOAUTH`, `READONLY`,
/// `OOM`), the packet's answer is `errc::replay_store_unavailable` with a message naming the
/// endpoint and what happened, and the server refuses the packet. After a failed connection or a
/// timeout the store waits `retry_after` before it tries again (packets meanwhile are refused at
/// once, without waiting on the network); a connection Redis closed (a restart) is made again at
/// once, once. It resumes by itself. A `READONLY` answer (a failover) drops the connection so the
/// next packet finds the new primary (knock/replay/redis_link.hpp: endpoints, Sentinel, AUTH).
/// The password comes from the caller (a file, never a command line) and is never in a message.
/// TLS (`rediss://`): the server's certificate is verified and its name checked, and a client
/// certificate can be given (`redis_tls_files`; knock/replay/redis_socket.hpp, which also says why
/// the connection is the store's own and hiredis only parses replies). A connection Redis reset
/// raises no SIGPIPE in the program, TLS or not (the connection blocks it around OpenSSL's
/// writes).
///
/// Replication (`wait_replicas`, KNOCK_REPLAY_REDIS_WAIT): Redis replicates asynchronously, so a
/// key set an instant before the primary dies may be missing on the replica that takes over, and
/// its packet could be accepted once more. With `wait_replicas` set, each flush ends with
/// `WAIT <replicas> <wait_timeout>` in the same round trip; fewer replicas acknowledging in time
/// turns the flush's new packets into `replay_store_unavailable` ("the keys reached k of n
/// replica(s) within T ms"), their keys left on the primary. WAIT's reply can come up to Redis's
/// timer period late (100 ms at `hz 10`): its read has `wait_timeout` + 200 ms.
///
/// A local `memory_store` sits in front as a first filter: a key Redis already answered for is
/// refused from memory without a round trip. It holds only what Redis said, so it never accepts
/// anything Redis would refuse; when it is full it just stops caching.

#include <knock/core/bytes.hpp>
#include <knock/core/error.hpp>
#include <knock/replay/concept.hpp>
#include <knock/replay/memory_store.hpp>
#include <knock/replay/redis_commands.hpp>
#include <knock/replay/redis_link.hpp>
#include <knock/replay/redis_socket.hpp>
#include <knock/replay/redis_tickets.hpp>
#include <knock/replay/redis_url.hpp>

#include <hiredis/hiredis.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace knock::replay {

/// How a `redis_store` reaches Redis.
struct redis_options {
  redis_address address;                        ///< endpoints (tried in order) and database
  secret_bytes password;                        ///< `AUTH` when not empty
  std::chrono::milliseconds timeout{50};        ///< connect, and each reply
  std::chrono::milliseconds retry_after{1000};  ///< after a failure, before the next try
  std::string prefix = "knock:replay:";         ///< of every key
  std::size_t local_capacity = memory_store::default_capacity;  ///< the first filter's keys
  /// Replicas that must have the keys before a packet counts as new (`WAIT <n> <wait_timeout>`
  /// after each batch's SETs); 0: none waited for. Fewer acknowledged in time: the batch's new
  /// packets are answered `replay_store_unavailable` (their keys stay on the primary).
  unsigned wait_replicas = 0;
  std::chrono::milliseconds wait_timeout{25};  ///< WAIT's own; below `timeout`, at least 1 ms
  redis_tls_files tls;  ///< with `address.tls`: the CAs, a client certificate, the server's name
  /// With `address.tls`: a context made already from `tls` (by a program that reads its files
  /// before it drops privileges); unset, the store makes it.
  std::optional<redis_tls_context> tls_context;
};

namespace detail {
// The pipeline a thread has open (knock::pipelining_replay_store): on which store, its number.
struct redis_pipeline_tag {
  const void* store = nullptr;
  std::uint64_t id = 0;
};
}  // namespace detail

/// Replay store on Redis. Models knock::replay_policy, batch_replay_store, replay_lookup and
/// pipelining_replay_store.
class redis_store {
 public:
  using role = knock::role::replay;

  /// Does not connect: the first `remember` (or `connect()`) does.
  explicit redis_store(redis_options o)
      : link_{std::move(o.address),    std::move(o.password), o.timeout, o.retry_after, o.tls,
              std::move(o.tls_context)},
        prefix_{std::move(o.prefix)},
        local_{o.local_capacity},
        wait_replicas_{o.wait_replicas},
        wait_ms_{std::max<long long>(1, o.wait_timeout.count())},
        commands_{prefix_.size()} {}
  redis_store(redis_store&&) noexcept = default;
  redis_store& operator=(redis_store&&) = delete;

  /// Connects now (whatever the back-off says): which endpoint answered, or why none did.
  result<void> connect() {
    if (link_.get(true) == nullptr) return fail(unavailable());
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
    auto promise = queue(keys, expires, now, 0);
    if (!promise || promise->ticket == 0)
      return promise ? result<sighting>{promise->seen} : fail(promise.error());
    return settle_now(promise->ticket);
  }

  // ---- pipelining (one round trip per batch of packets) -------------------------------------

  /// Opens this thread's pipeline: its number, for `end_pipeline`.
  std::uint64_t begin_pipeline() noexcept {
    current_ = {this, ++last_pipeline_};
    return current_.id;
  }
  /// True while this thread has a pipeline open on this store.
  bool pipelining() const noexcept { return current_.store == this; }

  /// In this thread's pipeline, queues `remember_all(keys, expires, now)` for `end_pipeline`: a
  /// ticket, or the answer now when the local filter holds every key (`replay`) or Redis cannot be
  /// reached now (the back-off after a failure: `replay_store_unavailable`). Outside a pipeline,
  /// answers at once (ticket 0).
  result<replay_promise> remember_later(std::span<const replay_key> keys, epoch_seconds expires,
                                        epoch_seconds now) noexcept {
    if (!pipelining()) {
      auto seen = remember_all(keys, expires, now);
      if (!seen) return fail(seen.error());
      return replay_promise{0, *seen};
    }
    return queue(keys, expires, now, current_.id);
  }

  /// Sends what is queued, if anything, and takes the answer for `ticket`.
  result<sighting> settle_now(std::uint32_t ticket) noexcept {
    flush();
    return tickets_.take(ticket);
  }

  /// The packet of `ticket` was refused anyway: its answer is not kept (its keys still go).
  void release(std::uint32_t ticket) noexcept { tickets_.release(ticket); }

  /// Sends what is queued and closes pipeline `id` (this thread's): appends to `refused` each of
  /// its tickets whose keys Redis held (`replayed`) or could not tell (`replay_store_unavailable`).
  /// False when they could not all be listed (no memory): every grant of the pipeline is refused.
  bool end_pipeline(std::uint64_t id, std::vector<replay_refusal>& refused) noexcept {
    flush();
    if (current_.store == this && current_.id == id) current_ = {};
    return tickets_.list_refused(id, refused);
  }

  // ---- looking without asking -----------------------------------------------------------------

  /// True when the local filter knows `key` (Redis said so earlier): no round trip. False says
  /// nothing: Redis may hold it.
  bool contains(const replay_key& key, epoch_seconds now) const noexcept {
    return local_.contains(key, now);
  }

  /// Keys held by the local filter (Redis holds the rest).
  std::size_t size() const noexcept { return local_.size(); }
  /// True while a connection is open (the last command succeeded or none was sent since).
  bool connected() const noexcept { return link_.connected(); }
  /// The endpoint of the open connection (empty when none).
  std::string endpoint() const { return link_.endpoint(); }
  /// Why the last command or connection failed (empty when nothing failed yet).
  const std::string& last_error() const noexcept { return link_.last_error(); }
  /// Packets whose keys Redis could not tell (each one refused), since construction.
  std::uint64_t failures() const noexcept { return failures_; }

 private:
  using entry = redis_tickets::entry;

  error unavailable() const { return {errc::replay_store_unavailable, link_.last_error()}; }
  error down() {
    ++failures_;
    return unavailable();
  }

  // Queues the commands for `keys` (up to two: a packet's) under a new ticket.
  result<replay_promise> queue(std::span<const replay_key> keys, epoch_seconds expires,
                               epoch_seconds now, std::uint64_t pipeline) noexcept {
    if (keys.empty()) return replay_promise{};
    if (std::all_of(keys.begin(), keys.end(),
                    [&](const replay_key& k) { return local_.contains(k, now); }))
      return replay_promise{0, sighting::replay};
    try {
      if (tickets_.queued().empty()) made_for_queue_ = !link_.connected();
      redis_socket* c = link_.get();
      if (c == nullptr) return fail(down());
      const entry& e = tickets_.queue(keys, expires, now, pipeline);
      const std::uint32_t ticket = e.ticket;
      try {
        append(*c, e);
      } catch (...) {
        tickets_.release(ticket);  // its error is returned now, not kept
        throw;
      }
      return replay_promise{ticket, sighting::first};
    } catch (...) {  // std::bad_alloc from a message or the queue: the reason still says it
      fail_queued();
      return fail(errc::replay_store_unavailable);
    }
  }

  // The SETs of `e` into the connection's output buffer (written at the first read). May throw
  // std::bad_alloc, the buffer then unchanged.
  void append(redis_socket& c, const entry& e) {
    const long long ttl =
        e.expires == never_expires ? 0 : std::max<long long>(1, e.expires - e.now);
    commands_.clear();
    for (std::size_t i = 0; i < e.count; ++i) commands_.set_nx(prefix_, e.keys[i], ttl);
    c.append(commands_.text());
  }

  // Every queued packet answered `replay_store_unavailable` (the connection is gone).
  void fail_queued() noexcept {
    closed_ = false;
    try {
      failures_ += tickets_.fail_queued(unavailable());
    } catch (...) {  // std::bad_alloc copying the message: the code still says it
      failures_ += tickets_.fail_queued(error{errc::replay_store_unavailable});
    }
  }

  // Writes what is queued and reads every reply, in order; each packet's answer is kept for its
  // owner. A connection Redis closed before answering anything (a restart) is made again and the
  // queue sent again, once; a timeout, or a connection that fails as soon as it is made, backs off.
  void flush() noexcept {
    if (tickets_.queued().empty()) return;
    try {
      bool waits = append_wait(link_.socket());
      for (int attempt = 0;; ++attempt) {
        std::size_t replies = 0;
        if (read_replies(replies, waits)) break;
        if (closed_ && !made_for_queue_ && attempt == 0 && replies == 0) {
          made_for_queue_ = true;
          if (redis_socket* c = link_.get()) {
            for (const entry& e : tickets_.queued()) append(*c, e);
            waits = append_wait(c);
            continue;
          }
        } else {
          link_.back_off();
        }
        fail_queued();
        break;
      }
    } catch (...) {
      link_.drop();
      fail_queued();
    }
  }

  // `WAIT <replicas> <ms>` after the queued SETs, when replicas are waited for; whether it was
  // appended (false also when none are waited for).
  bool append_wait(redis_socket* c) {
    if (wait_replicas_ == 0 || c == nullptr) return false;
    commands_.clear();
    commands_.wait(wait_replicas_, wait_ms_);
    c->append(commands_.text());
    return true;
  }

  // Reads the replies of the queued packets (and WAIT's, when `waits`); true when every one came
  // (the answers are kept, the queue is empty). On a failed read, the packets answered before it
  // are kept and leave the queue; `replies`: how many replies came before it.
  bool read_replies(std::size_t& replies, bool waits) {
    redis_socket* c = link_.socket();
    closed_ = false;
    if (c == nullptr) return false;  // dropped since the commands were queued: answered as down
    if (wait_replicas_ != 0 && !waits) return false;  // WAIT could not be queued: none is new
    const std::size_t kept_from = tickets_.answers();
    const auto& queued = tickets_.queued();
    bool drop = false;
    for (std::size_t n = 0; n < queued.size(); ++n) {
      const entry& e = queued[n];
      sighting seen = sighting::first;
      bool refused = false;
      for (std::size_t i = 0; i < e.count; ++i) {
        const redis_reply reply = c->reply();
        if (reply == nullptr) {
          closed_ = c->failed() == redis_socket::failure::closed ||
                    c->failed() == redis_socket::failure::io;
          link_.failed(c->error());
          link_.drop();
          tickets_.answered_first(n);
          return false;
        }
        ++replies;
        if (reply->type == REDIS_REPLY_STATUS || reply->type == REDIS_REPLY_NIL) {  // +OK, or NX
          if (reply->type == REDIS_REPLY_NIL) seen = sighting::replay;
          (void)local_.remember(e.keys[i], e.expires, e.now);  // full: it only stops caching
        } else if (!refused) {  // the first refusal says why; the other replies are still read
          refused = true;
          const std::string what = reply->type == REDIS_REPLY_ERROR
                                       ? std::string{reply->str, reply->len}
                                       : "an unexpected reply type " + std::to_string(reply->type);
          link_.failed("SET refused: " + what);
          drop = drop || what.starts_with("READONLY") || what.starts_with("NOAUTH");
        }
      }
      if (refused)
        ++failures_, tickets_.answer(e, unavailable());
      else
        tickets_.answer(e, seen);
    }
    tickets_.answered_first(queued.size());
    if (waits && !replicated(c, kept_from)) return false;  // WAIT's reply could not be read
    if (drop) link_.drop();  // a failover or a reset password: find the primary again
    return true;
  }

  // WAIT's reply. Unless enough replicas have the batch's keys, each new packet answered since
  // `kept_from` becomes `replay_store_unavailable` (and why, in the link's last error). False
  // when the reply could not be read (the connection is dropped).
  bool replicated(redis_socket* c, std::size_t kept_from) {
    bool ok = false, read = true;
    // The reply comes when the replicas have acknowledged, or at WAIT's timeout as Redis's timer
    // sees it (at `hz 10`, up to 100 ms late): the read's deadline is stretched meanwhile.
    const bool stretched = link_.extend_deadline(std::chrono::milliseconds{wait_ms_} + wait_slack);
    const redis_reply reply = c->reply();
    if (stretched && reply != nullptr) (void)link_.extend_deadline({});
    if (reply == nullptr) {
      link_.failed("WAIT: " + c->error());
      link_.drop();
      read = false;
    } else {
      if (reply->type == REDIS_REPLY_INTEGER && reply->integer >= wait_replicas_)
        ok = true;
      else if (reply->type == REDIS_REPLY_INTEGER)
        link_.failed("WAIT: the keys reached " + std::to_string(reply->integer) + " of " +
                     std::to_string(wait_replicas_) + " replica(s) within " +
                     std::to_string(wait_ms_) + " ms");
      else
        link_.failed("WAIT refused: " + (reply->type == REDIS_REPLY_ERROR
                                             ? std::string{reply->str, reply->len}
                                             : "an unexpected reply"));
    }
    if (!ok) failures_ += tickets_.refuse_new_since(kept_from, unavailable());
    return read;
  }

  static constexpr std::chrono::milliseconds wait_slack{
      200};  // Redis's timer granularity, and more
  static inline thread_local detail::redis_pipeline_tag current_{};

  redis_link link_;
  std::string prefix_;
  memory_store local_;
  unsigned wait_replicas_;
  long long wait_ms_;
  redis_tickets tickets_;        // the packets sent, and their answers
  bool made_for_queue_ = false;  // the connection was made for what is queued now
  bool closed_ = false;          // the last failed read found the connection closed
  std::uint64_t last_pipeline_ = 0;
  std::uint64_t failures_ = 0;
  redis_commands commands_;  // a packet's SETs, or WAIT
};

static_assert(replay_policy<redis_store>);
static_assert(batch_replay_store<redis_store>);
static_assert(pipelining_replay_store<redis_store>);

}  // namespace knock::replay
