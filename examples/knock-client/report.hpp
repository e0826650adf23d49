// SPDX-License-Identifier: MIT
#pragma once
// What -v and --test print: the packet's fields in fwknop's layout (so the two clients' outputs
// can be compared line by line), and the sending summary. Keys are never printed.

#include <knock/client/send.hpp>
#include <knock/codec/base64.hpp>
#include <knock/core/hash_id.hpp>
#include <knock/core/spa_message.hpp>
#include <knock/wire/encode.hpp>

#include <array>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace knock_client {

/// libfko's name for a message type.
constexpr std::string_view type_name(knock::message_type t) {
  constexpr std::array<std::string_view, 7> names{"Command msg",
                                                  "Access msg",
                                                  "NAT access msg",
                                                  "Client timeout access msg",
                                                  "Client timeout NAT access msg",
                                                  "Local NAT access msg",
                                                  "Client timeout local NAT access msg"};
  const auto i = static_cast<std::size_t>(t);
  return i < names.size() ? names[i] : "?";
}

/// libfko's number and name of an encryption mode (`-M` spelling in lower case).
inline std::pair<int, std::string_view> mode_id(std::string_view mode) {
  if (mode == "ecb") return {1, "ECB"};
  if (mode == "cfb") return {3, "CFB"};
  if (mode == "ofb") return {5, "OFB"};
  if (mode == "ctr") return {6, "CTR"};
  if (mode == "legacy") return {8, "legacy"};
  return {2, "CBC"};
}

inline std::string upper_hash(knock::hash_id h) {
  std::string s{knock::to_string(h)};
  for (char& c : s)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return s;
}

/// fwknop's "SPA Field Values" dump of `m`, sent as `packet`; `hmac` is the HMAC in use, if any.
inline void print_fields(std::FILE* out, const knock::spa_message& m, std::string_view packet,
                         std::string_view mode, std::optional<knock::hash_id> hmac) {
  const auto or_null = [](std::string_view s) {
    return s.empty() ? std::string{"<NULL>"} : std::string{s};
  };
  std::array<char, knock::limits::max_plaintext> text{};
  const auto size = knock::wire::format(m, text);
  const std::string_view plain{text.data(), size ? *size : 0};
  const std::string_view encoded = plain.substr(0, plain.rfind(':'));
  const auto [mode_number, mode_name] = mode_id(mode);
  std::string tag = "<NULL>";
  if (hmac)
    tag = std::string{
        packet.substr(packet.size() - knock::codec::base64::encoded_size(digest_size(*hmac)))};

  std::fprintf(out, "SPA Field Values:\n=================\n");
  std::fprintf(out, "   Random Value: %s\n", std::string{m.rand_value.view()}.c_str());
  std::fprintf(out, "       Username: %s\n", std::string{m.username.view()}.c_str());
  std::fprintf(out, "      Timestamp: %lld\n", static_cast<long long>(m.timestamp));
  std::fprintf(out, "    FKO Version: %s\n", std::string{m.version.view()}.c_str());
  std::fprintf(out, "   Message Type: %d (%s)\n", static_cast<int>(m.type),
               std::string{type_name(m.type)}.c_str());
  std::fprintf(out, " Message String: %s\n", std::string{m.message.view()}.c_str());
  std::fprintf(out, "     Nat Access: %s\n", or_null(m.nat_access.view()).c_str());
  std::fprintf(out, "    Server Auth: %s\n", or_null(m.server_auth.view()).c_str());
  std::fprintf(out, " Client Timeout: %u\n", static_cast<unsigned>(m.client_timeout));
  std::fprintf(out, "    Digest Type: %d (%s)\n", static_cast<int>(m.digest_type),
               upper_hash(m.digest_type).c_str());
  std::fprintf(out, "      HMAC Type: %d (%s)\n", hmac ? static_cast<int>(*hmac) : 0,
               hmac ? upper_hash(*hmac).c_str() : "None");
  std::fprintf(out, "Encryption Type: 1 (Rijndael)\n");
  std::fprintf(out, "Encryption Mode: %d (%s)\n", mode_number, std::string{mode_name}.c_str());
  std::fprintf(out, "   Encoded Data: %s\n", std::string{encoded}.c_str());
  std::fprintf(out, "SPA Data Digest: %s\n", std::string{m.digest.view()}.c_str());
  std::fprintf(out, "           HMAC: %s\n", tag.c_str());
  std::fprintf(out, " Final SPA Data: %s\n\n", std::string{packet}.c_str());
}

/// fwknop's -v summary before sending.
inline void print_sending(std::FILE* out, const knock::destination& d) {
  std::fprintf(out, "Generating SPA packet:\n");
  std::fprintf(out, "            protocol: %s\n",
               std::string{knock::to_string(d.protocol)}.c_str());
  if (d.source_port == 0)
    std::fprintf(out, "         source port: <OS assigned>\n");
  else
    std::fprintf(out, "         source port: %u\n", static_cast<unsigned>(d.source_port));
  std::fprintf(out, "    destination port: %u\n", static_cast<unsigned>(d.port));
  std::fprintf(out, "             IP/host: %s\n", d.host.c_str());
}

}  // namespace knock_client
