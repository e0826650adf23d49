// SPDX-License-Identifier: MIT
#pragma once
// What `knock-server --decode` does to one packet: everything `knock::server::handle` does —
// screen, replay memory, HMAC, decryption, the time window, the stanza's policy — with a firewall
// that only records the grant. The verdict becomes one JSON line.

#include "ciphers.hpp"
#include "json_line.hpp"

#include <knock/cipher/any_of.hpp>
#include <knock/core/error.hpp>
#include <knock/core/net.hpp>
#include <knock/firewall/recording.hpp>
#include <knock/mac/any_of.hpp>
#include <knock/server.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace knock_server {

/// The outcome for one packet, as printed.
struct verdict {
  bool accepted = false;
  std::string reason;                         // knock::to_string(errc) name; empty when accepted
  std::string detail;                         // more about an I/O or store reason (what and why)
  std::optional<std::size_t> stanza;          // 1-based index of the stanza that decoded it
  std::optional<knock::spa_message> message;  // set when some stanza decoded the packet
  std::optional<knock::grant> granted;        // when accepted

  static verdict refused(std::string reason, std::string detail = {}) {
    verdict v;
    v.reason = std::move(reason);
    v.detail = std::move(detail);
    return v;
  }
  static verdict from(const knock::verdict& v) {
    verdict out;
    out.accepted = v.accepted;
    if (!v.accepted) out.reason = knock::to_string(v.reason);
    out.detail = v.detail;  // what a failing store or firewall said (never a key)
    out.stanza = v.stanza;
    out.message = v.message;
    if (v.accepted) out.granted = v.granted;
    return out;
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
  if (const auto& g = v.granted) {
    out.begin_object("grant").string("source", knock::to_string(g->source)).begin_array("ports");
    for (const knock::port_spec& p : g->ports) out.element(knock::to_string(p));
    out.end_array().number("timeout", g->timeout).end_object();
  }
  return std::move(out).finish();
}

/// The server `--decode` runs: every Rijndael mode, GnuPG and every HMAC fwknop has, the firewall
/// only recorded, replays remembered in memory or (with a digest file) on disk.
template <class ReplayStore>
using decode_server =
    knock::server<server_cipher, knock::mac::any_hmac, knock::firewall::recording, ReplayStore>;

/// Checks packets as a server would, the packets' addresses given once for the run.
template <class ReplayStore>
class decoder {
 public:
  decoder(decode_server<ReplayStore> server, knock::ip_address source,
          knock::ip_address destination)
      : server_{std::move(server)}, source_{source}, destination_{destination} {}

  /// The verdict on `payload` (one UDP payload, exact bytes) at `now` (seconds since the epoch).
  verdict check(std::string_view payload, std::int64_t now) {
    return verdict::from(server_.handle({payload, source_, destination_}, now));
  }

 private:
  decode_server<ReplayStore> server_;
  knock::ip_address source_, destination_;
};

}  // namespace knock_server
