// SPDX-License-Identifier: MIT
// expect-success
// The control case: the complete fakes model the concepts and go through any_of, wire::open and
// wire::seal. If this stops compiling, the failing cases below prove nothing.
#include <knock/cipher/any_of.hpp>
#include <knock/mac/any_of.hpp>
#include <knock/wire/packet.hpp>

#include "fakes.hpp"

namespace {
using namespace knock;

static_assert(cipher_policy<test::fake_cipher<>>);
static_assert(mac_policy<test::fake_mac<>>);
static_assert(keyed_mac<test::fake_keyed_mac<>>);
// ...and each switch removes what it says, nothing more.
static_assert(!cipher_policy<test::fake_cipher<false, true>>);
static_assert(!cipher_policy<test::fake_cipher<true, false>>);
static_assert(!mac_policy<test::fake_mac<false>>);
static_assert(!keyed_mac<test::fake_keyed_mac<false>>);

[[maybe_unused]] bool uses_every_entry_point(const spa_message& m, secret_view key,
                                             bytes_view salt) {
  const cipher::any_of<cipher::rijndael<cbc>, test::fake_cipher<>> cipher;
  const auto mac = mac::any_of<mac::hmac<sha256>, test::fake_mac<>>::make("fake", key);
  const test::fake_keyed_mac<> keyed;
  auto sealed = wire::seal(m, cipher, key, &keyed, salt);
  auto opened = wire::open("packet", test::fake_cipher<>{}, key, mac ? &*mac : nullptr);
  return sealed.has_value() && opened.has_value();
}
}  // namespace
