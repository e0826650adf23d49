// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// knock's one error style.
///
/// - `knock::errc`: why a packet was refused or a call failed, as a stable name (`to_string`:
///   "bad_mac") and a sentence (`describe`). The packet path reports only this: it is the whole
///   story of a refusal, and it costs nothing.
/// - `knock::error`: `{errc, message}`, what everything that opens or changes a resource (a
///   firewall, a capture, a file, a process, a socket) returns in `result<T>`: the reason plus what
///   and where in words ("nftables: table inet knock: Operation not permitted"). Never a secret.
///
/// No out-parameters and no `last_error()`: a failure travels in the `result` that reports it.

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>

namespace knock {

// X-macro: one row per error, name and message side by side, so the enum, the names and the
// messages cannot drift apart.
#define KNOCK_ERRC_LIST(X)                                                                    \
  /* screening: the raw datagram, before any key is involved */                               \
  X(packet_too_short, "payload shorter than 140 bytes")                                       \
  X(packet_too_long, "payload longer than 1500 bytes")                                        \
  X(not_base64, "payload holds a character outside the base64 alphabet (padding included)")   \
  X(prefix_not_stripped, "payload starts with a prefix senders strip (U2FsdGVkX1; hQ > 400)") \
  X(too_long_for_rijndael, "400 characters or more: fwknop takes it for GPG data")            \
  /* authentication and decryption */                                                         \
  X(bad_mac, "HMAC does not match")                                                           \
  X(bad_ciphertext_length, "ciphertext is not Salted__, salt and whole AES blocks")           \
  X(decrypt_failed, "decrypted data does not start with 16 digits and ':' (wrong key?)")      \
  X(bad_key, "encryption key longer than 32 bytes")                                           \
  X(too_short_for_gnupg, "shorter than 400 characters: fwknop takes it for Rijndael data")    \
  X(bad_openpgp, "GnuPG data does not start with a public-key encrypted session key packet")  \
  X(gnupg_wrong_recipient, "GnuPG data is encrypted to a key the stanza does not hold")       \
  X(gnupg_decrypt_failed, "GnuPG could not decrypt the data (tampered, or a key problem)")    \
  X(gnupg_unsigned, "GnuPG data is not signed, and GPG_REQUIRE_SIG is set")                   \
  X(gnupg_bad_signature, "GnuPG signature is bad, or its key is not valid in the keyring")    \
  X(gnupg_signer_not_allowed, "signer not in GPG_REMOTE_ID / GPG_FINGERPRINT_ID")             \
  /* the decrypted message */                                                                 \
  X(bad_plaintext_length, "decrypted message shorter than 36 or longer than 1499 characters") \
  X(non_ascii, "decrypted message holds a non-printable character")                           \
  X(wrong_field_count, "wrong number of ':'-separated fields for the message type")           \
  X(bad_username, "username field is not valid")                                              \
  X(bad_timestamp, "timestamp field is not valid")                                            \
  X(bad_version, "version field is not valid")                                                \
  X(bad_message_type, "message type is not 0..6")                                             \
  X(bad_message, "access or command message is not valid")                                    \
  X(bad_nat_access, "NAT access field is not valid")                                          \
  X(bad_server_auth, "server auth field is not valid")                                        \
  X(bad_client_timeout, "client timeout field is not valid")                                  \
  X(bad_digest, "inner digest has no known length or is not base64")                          \
  X(digest_mismatch, "inner digest does not match the message")                               \
  /* policy (server) */                                                                       \
  X(no_matching_stanza, "no access.conf stanza matches the source address")                   \
  X(replayed, "packet was seen before")                                                       \
  X(replay_store_full,                                                                        \
    "replay store full of packets that could still be replayed: failing closed")              \
  X(replay_store_unavailable,                                                                 \
    "the replay store could not be asked whether the packet was seen: failing closed")        \
  X(stale_timestamp, "timestamp outside the allowed window")                                  \
  X(access_denied, "request not allowed by the matching stanza")                              \
  X(source_address_required, "request for 0.0.0.0 (-s) where REQUIRE_SOURCE_ADDRESS is set")  \
  X(username_mismatch, "username differs from REQUIRE_USERNAME")                              \
  X(ports_denied, "a requested port is in RESTRICT_PORTS or missing from OPEN_PORTS")         \
  X(commands_disabled, "command message to a stanza without ENABLE_CMD_EXEC")                 \
  X(nat_disabled, "NAT request, and NAT is not enabled")                                      \
  X(nat_unsupported, "NAT grant, and the firewall backend cannot NAT")                        \
  X(nat_name_refused, "NAT to a host name: ENABLE_NAT_DNS N, or not a valid name")            \
  X(nat_name_unresolved, "NAT to a host name with no IPv4 address")                           \
  X(firewall_failed, "the firewall refused the grant")                                        \
  X(capture_failed, "capturing packets failed")                                               \
  /* requests made by a client */                                                             \
  X(request_too_long, "packet would be 400 characters or more, which fwknopd does not take")  \
  X(invalid_request, "request field is not valid")                                            \
  /* everything else */                                                                       \
  X(config_invalid, "configuration is not valid")                                             \
  X(io_failed, "reading or writing failed")                                                   \
  X(crypto_failed, "the crypto library reported an error")

/// Why a packet was refused or a call failed. Zero is never used: a zero `error_code` means
/// success.
enum class errc : std::uint8_t {
#define KNOCK_ERRC_ENUM(name, text) name,
  none_ = 0,
  KNOCK_ERRC_LIST(KNOCK_ERRC_ENUM)
#undef KNOCK_ERRC_ENUM
};

/// The stable snake_case name of `e` ("bad_mac"), as logged and printed by the programs.
constexpr std::string_view to_string(errc e) noexcept {
  switch (e) {
#define KNOCK_ERRC_NAME(name, text) \
  case errc::name: return #name;
    KNOCK_ERRC_LIST(KNOCK_ERRC_NAME)
#undef KNOCK_ERRC_NAME
    case errc::none_: break;
  }
  return "unknown";
}

/// A sentence describing `e`, for humans.
constexpr std::string_view describe(errc e) noexcept {
  switch (e) {
#define KNOCK_ERRC_TEXT(name, text) \
  case errc::name: return text;
    KNOCK_ERRC_LIST(KNOCK_ERRC_TEXT)
#undef KNOCK_ERRC_TEXT
    case errc::none_: break;
  }
  return "unknown error";
}

namespace detail {
class error_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "knock"; }
  std::string message(int ev) const override {
    return std::string{describe(static_cast<errc>(ev))};
  }
};
}  // namespace detail

/// The `"knock"` error category.
inline const std::error_category& knock_category() noexcept {
  static const detail::error_category category;
  return category;
}

/// Why a call that opens or changes a resource failed: the reason, and what and where in words.
/// Converts from a bare `errc`, so `return knock::fail(errc::io_failed);` works where the reason
/// says it all.
struct error {
  errc code = errc::none_;
  std::string message;  ///< what and where, for a log line; empty: `describe(code)` says it all

  error() = default;
  error(errc c) noexcept : code{c} {}  // NOLINT(google-explicit-constructor): fail(errc::x)
  error(errc c, std::string what) : code{c}, message{std::move(what)} {}

  friend bool operator==(const error& e, errc c) noexcept { return e.code == c; }
};

/// The message of `e`, else the sentence for its code.
inline std::string to_string(const error& e) {
  return e.message.empty() ? std::string{describe(e.code)} : e.message;
}

/// `what: <strerror(errnum)>` as an error of kind `code`: for a failed system call.
inline error system_error(errc code, std::string_view what, int errnum = errno) {
  std::string m{what};
  m.append(": ").append(std::strerror(errnum));
  return {code, std::move(m)};
}

/// The reason of any error knock reports.
constexpr errc to_errc(errc e) noexcept { return e; }
inline errc to_errc(const error& e) noexcept { return e.code; }

/// Lets `errc` convert to `std::error_code` (found by ADL).
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), knock_category()};
}

/// The `errc` of `ec` when it is in knock's category; `errc::io_failed` for any other error.
inline errc to_errc(const std::error_code& ec) noexcept {
  return &ec.category() == &knock_category() ? static_cast<errc>(ec.value()) : errc::io_failed;
}

/// The knock name of `ec` when it is in knock's category, else its message.
inline std::string error_name(const std::error_code& ec) {
  if (&ec.category() == &knock_category())
    return std::string{to_string(static_cast<errc>(ec.value()))};
  return ec.message();
}
/// The stable name of `e` (the packet path's errors).
inline std::string error_name(errc e) { return std::string{to_string(e)}; }
/// The message of `e` when it has one, else its stable name.
inline std::string error_name(const error& e) {
  return e.message.empty() ? std::string{to_string(e.code)} : e.message;
}

}  // namespace knock

template <>
struct std::is_error_code_enum<knock::errc> : std::true_type {};
