// SPDX-License-Identifier: MIT
#pragma once
// What `knock-server --decode` does to one packet, firewall left out: screen it; try the stanzas
// whose SOURCE matches, in file order, until one opens it; refuse it if the run has seen the same
// message before; refuse it if its timestamp is more than 120 s away from now.

#include "json_line.hpp"

#include <knock/access/stanza.hpp>
#include <knock/cipher/any_of.hpp>
#include <knock/core/error.hpp>
#include <knock/core/net.hpp>
#include <knock/crypto/hash.hpp>
#include <knock/mac/any_of.hpp>
#include <knock/wire/packet.hpp>
#include <knock/wire/spa_message.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace knock_server {

/// fwknopd's MAX_SPA_PACKET_AGE: |now - timestamp| up to this is fine, both ways.
inline constexpr std::int64_t max_packet_age = 120;

/// The outcome for one packet.
struct verdict {
  bool accepted = false;
  std::string reason;                         // knock::to_string(errc) name; empty when accepted
  std::string detail;                         // more about an I/O reason (the path and why)
  std::optional<std::size_t> stanza;          // 1-based index of the stanza that opened it
  std::optional<knock::spa_message> message;  // set when some stanza decoded the packet

  static verdict refused(std::string reason, std::string detail = {}) {
    verdict v;
    v.reason = std::move(reason);
    v.detail = std::move(detail);
    return v;
  }
};

/// The verdict as one line of JSON (no newline).
inline std::string to_json(const verdict& v) {
  json_line out;
  out.boolean("decoded", v.message.has_value()).boolean("accepted", v.accepted);
  if (!v.accepted) out.string("reason", v.reason);
  if (!v.detail.empty()) out.string("detail", v.detail);
  if (v.stanza)
    out.number("stanza", static_cast<std::int64_t>(*v.stanza));
  else
    out.null("stanza");
  if (const auto& m = v.message) {
    out.begin_object("fields")
        .string("rand_value", m->rand_value)
        .string("username", m->username)
        .number("timestamp", m->timestamp)
        .string("version", m->version)
        .number("message_type", static_cast<std::int64_t>(m->type))
        .string("message", m->message);
    if (knock::has_nat(m->type))
      out.string("nat_access", m->nat_access);
    else
      out.null("nat_access");
    if (m->has_server_auth)
      out.string("server_auth", m->server_auth);
    else
      out.null("server_auth");
    out.number("client_timeout", m->client_timeout)
        .number("digest_type", static_cast<std::int64_t>(m->digest_type))
        .end_object();
  }
  return std::move(out).finish();
}

/// One access.conf stanza, with every Rijndael mode and HMAC fwknop has.
using bound_stanza = knock::access::stanza<knock::cipher::any_rijndael, knock::mac::any_hmac>;

/// Checks packets against an access.conf; remembers every message it decoded, for the run.
class decoder {
 public:
  /// `source` and `destination` are the packets' addresses, when known. A stanza takes packets
  /// from an unknown source only if it says `SOURCE ANY`.
  decoder(std::vector<bound_stanza> stanzas, std::optional<knock::ip_address> source,
          std::optional<knock::ip_address> destination)
      : stanzas_{std::move(stanzas)}, source_{source}, destination_{destination} {}

  /// The verdict on `payload` (one UDP payload, exact bytes) at `now` (seconds since the epoch).
  verdict check(std::string_view payload, std::int64_t now) {
    if (auto ok = knock::wire::screen(payload); !ok)
      return verdict::refused(knock::error_name(ok.error()));
    verdict v = verdict::refused(std::string{knock::to_string(knock::errc::no_matching_stanza)});
    for (std::size_t i = 0; i < stanzas_.size(); ++i) {
      const auto& s = stanzas_[i];
      if (!(source_ ? s.sources.contains(*source_) : s.sources.any)) continue;
      if (destination_ && !s.destinations.contains(*destination_)) continue;
      const auto long_ones = s.enable_cmd_exec ? knock::wire::long_packets::try_aes
                                               : knock::wire::long_packets::refuse;
      auto m = knock::wire::open(payload, s.cipher, s.key.view(), s.mac_state(), long_ones);
      if (!m) {
        v.reason = knock::error_name(m.error());  // the last stanza tried gives the reason
        continue;
      }
      v.stanza = i + 1;
      v.message = *m;
      break;
    }
    if (!v.message) return v;
    if (!seen_.insert(replay_key(*v.message)).second) {
      v.reason = knock::to_string(knock::errc::replayed);
      return v;
    }
    const std::int64_t ts = v.message->timestamp;  // 0..999999999999, so no overflow below
    if ((now > ts ? now - ts : ts - now) > max_packet_age) {
      v.reason = knock::to_string(knock::errc::stale_timestamp);
      return v;
    }
    v.accepted = true;
    v.reason.clear();
    return v;
  }

 private:
  using digest = std::array<knock::byte, 32>;

  // SHA-256 over the message's fields, each length-prefixed: two spellings of one message (another
  // salt, padded base64 fields, another inner digest) are one key, as they are one request.
  static digest replay_key(const knock::spa_message& m) {
    std::string text;
    const auto put = [&](std::string_view field) {
      text += std::to_string(field.size());
      text += ':';
      text += field;
    };
    put(m.rand_value), put(m.username), put(std::to_string(m.timestamp)), put(m.version);
    put(std::to_string(static_cast<int>(m.type))), put(m.message), put(m.nat_access);
    put(m.has_server_auth ? "1" : "0"), put(m.server_auth), put(std::to_string(m.client_timeout));
    digest d;
    knock::hash(knock::hash_id::sha256, knock::as_bytes(text), d.data());
    return d;
  }

  std::vector<bound_stanza> stanzas_;
  std::optional<knock::ip_address> source_;
  std::optional<knock::ip_address> destination_;
  std::set<digest> seen_;
};

}  // namespace knock_server
