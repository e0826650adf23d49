// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::server<Policies...>`: an SPA server composed at compile time from a Cipher, a Mac, a
/// ReplayStore and a Firewall (a Clock and an Observer are optional), given in any order.
///
/// `handle(datagram, now)` decides one datagram. The stages, in this order (spec §7, with knock's
/// improvements):
///
///  1. screen       length 140..1500, no `U2FsdGVkX1` prefix, base64 alphabet only (no `=`)
///  2. per stanza, in file order, while none has succeeded:
///     a. SOURCE and DESTINATION hold the addresses and ACCESS_EXPIRE has not passed (else the
///        stanza is skipped before any crypto; none left: `no_matching_stanza`)
///     b. HMAC (constant time). Once it verifies, the payload's SHA-256 is the packet's wire key:
///        an authenticated payload has exactly one spelling (strict base64, exact tag), so its
///        digest is canonical. Garbage and forgeries never reach the replay store. A payload the
///        store already knows without asking anyone (`replay_lookup`: memory, the replay log,
///        Redis's local filter) is refused as `replayed` here, before decryption.
///     c. decrypt and decode; the message's own key (`wire::message_key`: its fields) identifies
///        one request however it was spelled or encrypted — the only safeguard for a stanza
///        without HMAC (spec Q9).
///     d. time window: |now − timestamp| ≤ MAX_SPA_PACKET_AGE (unless aging is off). Then both
///        keys are **recorded as seen** in one call to the store (`remember_all`: one round trip
///        to a networked store), which says whether either was there already (`replayed`). In a
///        pipelining store's batch (`pipelining_replay_store`: Redis, in the daemon) the call
///        queues the keys for one round trip per batch; the grant then carries the answer's
///        ticket through the firewall's held-back queue, and is refused there unless the keys
///        were new (a packet that acts at once, a command message, asks for its answer first). Each
///        key is recorded once per datagram: a later stanza decoding the same message is not a
///        replay. A packet too old for the window never reaches the store (it can never pass
///        again); one from the future (a client's clock ahead) is recorded until it could no
///        longer pass, and refused as stale, so a copy sent when it would pass is refused too.
///     e. authorize: requested address, username, NAT/command rules, ports, timeout
///     f. a `durable_replay_store` (file_store) makes the recorded keys durable (one sync)
///     g. the firewall opens the grant (command messages open nothing: the verdict carries them);
///        a deferring firewall (firewall::async) queues it instead: the verdict is `pending`, the
///        Observer hears of the packet once `settle` is given the firewall's answer
///  A failing stage moves on to the next stanza; the verdict gives the reason of the last one
///  tried. A packet is remembered until no replay of it could pass the time window (now + 2 × max
///  age). A store that cannot tell (`replay_store_unavailable`) or cannot record (a full store, a
///  disk error) refuses the packet: knock fails closed. When a resource fails (the store, the
///  firewall), `verdict::detail` and the observer's event carry what it said; that is the only
///  case where deciding a packet allocates.

#include <knock/access/authorize.hpp>
#include <knock/access/options.hpp>
#include <knock/access/stanza.hpp>
#include <knock/cipher/concept.hpp>
#include <knock/core/datagram.hpp>
#include <knock/core/error.hpp>
#include <knock/crypto/hash.hpp>
#include <knock/detail/select.hpp>
#include <knock/firewall/concept.hpp>
#include <knock/mac/concept.hpp>
#include <knock/observe/concept.hpp>
#include <knock/replay/concept.hpp>
#include <knock/replay/memory_store.hpp>
#include <knock/wire/message_key.hpp>
#include <knock/wire/packet.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace knock {

// `knock::server_options` (= access::server_options) comes with knock/access/options.hpp, so that
// configuration code can name it without including the server.

/// Everything a server enforces: its stanzas, bound to its policies, and its options.
template <class Cipher, class Mac>
struct access_rules {
  std::vector<access::stanza<Cipher, Mac>> stanzas;
  server_options options;
};

/// The decision about one datagram.
struct verdict {
  bool accepted = false;
  errc reason = errc::none_;           ///< why not, when not accepted
  std::optional<std::size_t> stanza;   ///< 1-based: the stanza that decoded it
  std::optional<spa_message> message;  ///< the decoded message, when some stanza could decode it
  grant granted;                       ///< when accepted (no ports for a command message)
  std::string detail;  ///< what a failing resource (store, firewall) said; empty otherwise
  /// Accepted by the rules, and the grant handed to a deferring firewall (firewall::async): the
  /// Observer has not heard of the packet yet; `server::settle` gives the firewall's answer.
  bool pending = false;
  bool decoded() const noexcept { return message.has_value(); }
};

template <class... Policies>
class server {
  template <class Role>
  static constexpr std::size_t count = detail::count_role<Role, Policies...>;
  static_assert(count<role::cipher> == 1,
                "knock::server: exactly one Cipher policy is needed "
                "(knock/cipher/concept.hpp)");
  static_assert(count<role::mac> == 1,
                "knock::server: exactly one Mac policy is needed "
                "(knock/mac/concept.hpp)");
  static_assert(count<role::firewall> == 1,
                "knock::server: exactly one Firewall policy is needed "
                "(knock/firewall/concept.hpp)");
  static_assert(count<role::replay> <= 1,
                "knock::server: at most one ReplayStore policy "
                "(knock/replay/concept.hpp)");
  static_assert(count<role::observer> <= 1,
                "knock::server: at most one Observer policy "
                "(knock/observe/concept.hpp)");
  static_assert(count<detail::clock_role> <= 1, "knock::server: at most one Clock");

 public:
  using cipher_type = detail::select_role_t<role::cipher, detail::missing, Policies...>;
  using mac_type = detail::select_role_t<role::mac, detail::missing, Policies...>;
  using replay_type = detail::select_role_t<role::replay, replay::memory_store, Policies...>;
  using firewall_type = detail::select_role_t<role::firewall, detail::missing, Policies...>;
  using observer_type = detail::select_role_t<role::observer, observe::null, Policies...>;
  using clock_type =
      detail::select_role_t<detail::clock_role, std::chrono::system_clock, Policies...>;
  using rules_type = access_rules<cipher_type, mac_type>;

  static_assert(cipher_policy<cipher_type>,
                "knock::server: Cipher must model knock::cipher_policy (knock/cipher/concept.hpp)");
  static_assert(mac_policy<mac_type>,
                "knock::server: Mac must model knock::mac_policy (knock/mac/concept.hpp)");
  static_assert(
      replay_policy<replay_type>,
      "knock::server: ReplayStore must model knock::replay_policy (knock/replay/concept.hpp)");
  static_assert(
      firewall_policy<firewall_type>,
      "knock::server: Firewall must model knock::firewall_policy (knock/firewall/concept.hpp)");
  static_assert(
      observer_policy<observer_type>,
      "knock::server: Observer must model knock::observer_policy (knock/observe/concept.hpp)");

  /// A server enforcing `rules`. Each of `parts` (a firewall, a replay store, an observer, already
  /// set up) goes to the slot of its role; the others are value-initialised.
  template <class... Parts>
  explicit server(rules_type rules, Parts&&... parts)
      : rules_{std::move(rules)},
        replay_{pick<replay_type>(std::forward<Parts>(parts)...)},
        firewall_{pick<firewall_type>(std::forward<Parts>(parts)...)},
        observer_{pick<observer_type>(std::forward<Parts>(parts)...)} {
    static_assert(((std::is_same_v<std::remove_cvref_t<Parts>, replay_type> ||
                    std::is_same_v<std::remove_cvref_t<Parts>, firewall_type> ||
                    std::is_same_v<std::remove_cvref_t<Parts>, observer_type>)&&...),
                  "knock::server: each argument after the rules must be the server's replay store, "
                  "firewall or observer");
  }

  /// Decides one datagram at `now` (seconds since the epoch, server clock). Never throws.
  verdict handle(const datagram& d, epoch_seconds now) noexcept {
    verdict v = decide(d, now);
    if (!v.pending)  // a pending grant is reported when the firewall has answered (settle)
      observer_.on_packet(
          {d.source, v.accepted, v.reason, v.stanza, v.accepted ? &v.granted : nullptr, v.detail});
    return v;
  }

  /// A deferring firewall's answer (`outcome`) about the grant `handle` left pending: the
  /// packet's verdict now, which the Observer hears of as if `handle` had given it: accepted, or
  /// refused as `firewall_failed` (`nat_unsupported`) with what the firewall said, or as
  /// `io_failed` when its grant was withdrawn because its replay keys could not be made durable
  /// (a batch whose `end_batch` failed, see replay::commit_batching_store), or as `replayed` /
  /// `replay_store_unavailable` when a pipelining store answered so for its keys at its batch's
  /// end (replay::pipelining_replay_store).
  verdict settle(firewall::grant_request request, const result<void>& outcome) noexcept {
    verdict v;
    v.stanza = request.stanza;
    if (outcome) {
      v.accepted = true;
      v.granted = std::move(request.granted);
    } else {
      const errc code = outcome.error().code;
      const bool own_reason = code == errc::nat_unsupported || code == errc::io_failed ||
                              code == errc::replayed || code == errc::replay_store_unavailable;
      v.reason = own_reason ? code : errc::firewall_failed;
      try {
        v.detail = outcome.error().message;
      } catch (...) {  // std::bad_alloc: the reason still says it
      }
    }
    observer_.on_packet({request.packet_source, v.accepted, v.reason, v.stanza,
                         v.accepted ? &v.granted : nullptr, v.detail});
    return v;
  }
  /// Decides one datagram now, by the Clock.
  verdict handle(const datagram& d) noexcept {
    return handle(
        d, std::chrono::duration_cast<std::chrono::seconds>(clock_type::now().time_since_epoch())
               .count());
  }

  /// Takes new rules (a reloaded access.conf); the replay memory, the firewall and its open grants
  /// stay as they are.
  void replace_rules(rules_type rules) noexcept { rules_ = std::move(rules); }

  const rules_type& rules() const noexcept { return rules_; }
  firewall_type& firewall() noexcept { return firewall_; }
  replay_type& replay_store() noexcept { return replay_; }
  observer_type& observer() noexcept { return observer_; }

 private:
  // The argument of type T, or a value-initialised T when none was given.
  template <class T>
  static T pick() {
    return T{};
  }
  template <class T, class A, class... Rest>
  static T pick(A&& a, Rest&&... rest) {
    if constexpr (std::is_same_v<std::remove_cvref_t<A>, T>)
      return T(std::forward<A>(a));
    else
      return pick<T>(std::forward<Rest>(rest)...);
  }

  epoch_seconds remember_until(epoch_seconds now) const noexcept {
    const auto& o = rules_.options;
    return o.packet_aging ? now + 2 * o.max_packet_age + 1 : never_expires;
  }

  verdict decide(const datagram& d, epoch_seconds now) noexcept {
    verdict v;
    const auto refuse = [&](errc why) {
      v.reason = why;
      return v;
    };
    // A resource failed: the reason, and what it said (the only allocation deciding a packet).
    const auto resource_failed = [&](errc why, const error& e) {
      if (!e.message.empty()) {
        try {
          v.detail = e.message;
        } catch (...) {  // std::bad_alloc: the reason still says it
        }
      }
      return refuse(why);
    };
    if (auto ok = wire::screen(d.payload); !ok) return refuse(ok.error());

    errc last = errc::no_matching_stanza;  // stays so when no stanza takes this source
    std::optional<replay_key> wire_key;    // the payload's, once an HMAC has verified it
    bool wire_recorded = false;
    std::optional<replay_key> recorded_message;
    pipelined ticket{replay_};  // the keys' answer, when the store answers at its batch's end
    const auto& o = rules_.options;
    for (std::size_t i = 0; i < rules_.stanzas.size(); ++i) {
      const auto& s = rules_.stanzas[i];
      if (!s.sources.contains(d.source) || !s.destinations.contains(d.destination) ||
          now >= s.access_expire)
        continue;
      const auto long_ones =
          s.enable_cmd_exec ? wire::long_packets::try_aes : wire::long_packets::refuse;
      const auto body = wire::authenticate(d.payload, s.cipher, s.mac_state(), long_ones);
      if (!body) {
        last = body.error();
        continue;
      }
      // Hashed only once authenticated: garbage never pays for it, and an authenticated payload has
      // one spelling (strict base64, exact tag), so its digest identifies it before any decryption.
      if (s.mac && !wire_key) {
        wire_key.emplace();
        hash(hash_id::sha256, as_bytes(d.payload), wire_key->bytes.data());
        // A payload the store knows already is a replay, refused before any decryption (a
        // replayed GnuPG packet costs no private-key work); unknown, it is recorded below.
        if constexpr (replay_lookup<replay_type>)
          if (replay_.contains(*wire_key, now)) return refuse(errc::replayed);
      }
      auto message = wire::decrypt(*body, s.cipher, s.key.view(), long_ones);
      if (!message) {
        last = message.error();
        continue;
      }
      v.stanza = i + 1;
      v.message = *message;
      const replay_key message_key{wire::message_key(*message)};
      const epoch_seconds age = now - message->timestamp;
      const bool stale = o.packet_aging && (age > o.max_packet_age || -age > o.max_packet_age);
      // Too old: it can never pass the window again, so the store is not asked (no round trip).
      if (stale && age > 0) {
        last = errc::stale_timestamp;
        continue;
      }
      // The keys not yet recorded for this datagram (a later stanza decoding the same message is
      // not a replay), in one call: one round trip to a networked store. A packet from the future
      // (a client's clock ahead) passes the window later: it is recorded until it no longer
      // could, so a copy sent then is refused.
      std::array<replay_key, 2> keys;
      std::size_t n = 0;
      if (wire_key && !wire_recorded) keys[n++] = *wire_key;
      if (!(recorded_message && *recorded_message == message_key)) keys[n++] = message_key;
      if (n > 0) {
        const epoch_seconds until =
            stale ? message->timestamp + o.max_packet_age + 1 : remember_until(now);
        const auto seen = remember(std::span{keys.data(), n}, until, now, ticket);
        if (!seen) return resource_failed(seen.error().code, seen.error());
        wire_recorded = wire_key.has_value();
        recorded_message = message_key;
        if (*seen == sighting::replay && !stale) return refuse(errc::replayed);
      }
      if (stale) {
        last = errc::stale_timestamp;
        ticket.release();  // refused whatever the store says
        continue;
      }
      auto granted = access::authorize(s, i + 1, *message, d.source, now, rules_.options.nat);
      if (!granted) {
        last = to_errc(granted.error());
        continue;
      }
      granted->destination = d.destination;
      // A grant the firewall's writer holds back waits for the store's answer there; anything
      // else (a command message, a firewall that opens at once) has it now.
      if (!(firewall::deferring_firewall<firewall_type> &&
            (granted->nat || !granted->ports.empty())))
        if (auto seen = ticket.settle_now(); !seen || *seen == sighting::replay)
          return seen ? refuse(errc::replayed) : resource_failed(seen.error().code, seen.error());
      if constexpr (durable_replay_store<replay_type>)  // durable before anything is granted
        if (auto ok = replay_.commit(); !ok) return resource_failed(ok.error().code, ok.error());
      if constexpr (firewall::deferring_firewall<firewall_type>) {
        // Handed to the firewall's writer: the verdict waits for its answer (settle).
        if (granted->nat || !granted->ports.empty()) {
          const bool nat = static_cast<bool>(granted->nat);
          if (auto ok = firewall_.submit({*granted, nat, d.source, i + 1, ticket.id}); !ok)
            return resource_failed(ok.error().code == errc::nat_unsupported ? errc::nat_unsupported
                                                                            : errc::firewall_failed,
                                   ok.error());
          ticket.id = 0;  // the grant carries it: the pipeline's owner settles it
          v.pending = true;
        }
      } else if (granted->nat) {
        // A firewall without the ability refuses at compile time what it cannot do; a set of
        // backends (any_of) answers for the one that runs.
        if constexpr (firewall::nat_firewall<firewall_type>) {
          if (auto ok = firewall_.open_nat(*granted); !ok)
            return resource_failed(ok.error().code == errc::nat_unsupported ? errc::nat_unsupported
                                                                            : errc::firewall_failed,
                                   ok.error());
        } else {
          return refuse(errc::nat_unsupported);
        }
      } else if (!granted->ports.empty()) {
        if (auto ok = firewall_.open(*granted); !ok)
          return resource_failed(errc::firewall_failed, ok.error());
      }
      v.accepted = true;
      v.granted = std::move(*granted);
      return v;
    }
    return refuse(last);
  }

  // A packet's keys queued in a pipelining store's batch (knock::pipelining_replay_store): the
  // ticket of their answer, released (the answer dropped) unless a grant took it or it was asked
  // for now. Inert for every other store.
  struct pipelined {
    replay_type& store;
    std::uint32_t id = 0;
    explicit pipelined(replay_type& s) noexcept : store{s} {}
    pipelined(const pipelined&) = delete;
    pipelined& operator=(const pipelined&) = delete;
    ~pipelined() { release(); }
    void release() noexcept {
      if constexpr (pipelining_replay_store<replay_type>)
        if (id != 0) store.release(std::exchange(id, 0));
    }
    // The answer for the ticket, asked for now (no ticket: nothing waits, `first`).
    result<sighting> settle_now() noexcept {
      if constexpr (pipelining_replay_store<replay_type>)
        if (id != 0) return store.settle_now(std::exchange(id, 0));
      return sighting::first;
    }
  };

  // Records `keys` in the store: at once, or queued in this thread's pipeline (`ticket` then
  // names the answer; the datagram's earlier ticket, from another stanza, is answered first).
  result<sighting> remember(std::span<const replay_key> keys, epoch_seconds until,
                            epoch_seconds now, pipelined& ticket) noexcept {
    if constexpr (pipelining_replay_store<replay_type>) {
      if (replay_.pipelining()) {
        if (auto earlier = ticket.settle_now(); !earlier || *earlier == sighting::replay)
          return earlier;
        auto promise = replay_.remember_later(keys, until, now);
        if (!promise) return fail(std::move(promise.error()));
        ticket.id = promise->ticket;
        return promise->seen;
      }
    }
    return knock::remember_all(replay_, keys, until, now);
  }

  rules_type rules_;
  [[no_unique_address]] replay_type replay_;
  [[no_unique_address]] firewall_type firewall_;
  [[no_unique_address]] observer_type observer_;
};

}  // namespace knock
