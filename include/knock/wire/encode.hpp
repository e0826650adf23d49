// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `wire::format`: `spa_message` → the plaintext `encoded:digest` (spec §2, §3), with the inner
/// digest computed in `m.digest_type`. The result is checked with `wire::parse`, so knock never
/// writes a message that knock or fwknopd would refuse.

#include <knock/codec/base64.hpp>
#include <knock/core/error.hpp>
#include <knock/core/result.hpp>
#include <knock/core/spa_message.hpp>
#include <knock/crypto/hash.hpp>
#include <knock/wire/decode.hpp>

#include <array>
#include <charconv>
#include <cstddef>
#include <span>
#include <string_view>

namespace knock::wire {

/// Writes the plaintext of `m` into `out` (at least `limits::max_plaintext` characters) and returns
/// its size. `m.digest` is ignored (it is computed); `errc::invalid_request` names nothing secret.
inline result<std::size_t, errc> format(const spa_message& m, std::span<char> out) noexcept {
  if (out.size() < limits::max_plaintext) return fail(errc::invalid_request);
  std::size_t n = 0;
  bool fits = true;
  const auto put = [&](std::string_view s) {
    fits = fits && n + s.size() < limits::max_plaintext;
    if (fits) s.copy(out.data() + n, s.size()), n += s.size();
  };
  const auto put_b64 = [&](std::string_view s) {
    fits = fits && n + codec::base64::encoded_size(s.size()) < limits::max_plaintext;
    if (fits) n += codec::base64::encode(as_bytes(s), out.data() + n);
  };
  const auto put_number = [&](std::uint64_t v) {
    std::array<char, 24> digits;
    const auto end = std::to_chars(digits.begin(), digits.end(), v).ptr;
    put({digits.data(), static_cast<std::size_t>(end - digits.data())});
  };

  put(m.rand_value), put(":"), put_b64(m.username), put(":");
  put_number(static_cast<std::uint64_t>(m.timestamp < 0 ? 0 : m.timestamp));
  put(":"), put(m.version.empty() ? protocol_version : m.version.view()), put(":");
  put_number(static_cast<std::uint64_t>(m.type)), put(":"), put_b64(m.message);
  if (has_nat(m.type)) put(":"), put_b64(m.nat_access);
  if (m.has_server_auth) put(":"), put_b64(m.server_auth);
  if (has_client_timeout(m.type)) put(":"), put_number(m.client_timeout);
  if (!fits || m.timestamp < 0) return fail(errc::invalid_request);

  std::array<byte, 64> digest;
  const std::size_t size = hash(m.digest_type, as_bytes({out.data(), n}), digest.data());
  put(":");
  if (!fits || n + codec::base64::encoded_size(size) >= limits::max_plaintext)
    return fail(errc::invalid_request);
  n += codec::base64::encode({digest.data(), size}, out.data() + n);

  // The decoder is the one definition of a valid message: what it refuses, we do not send.
  const auto check = parse({out.data(), n});
  if (!check || check->digest_type != m.digest_type) return fail(errc::invalid_request);
  return n;
}

}  // namespace knock::wire
