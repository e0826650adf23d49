// SPDX-License-Identifier: MIT
// expect-error: knock::wire::open: MacKeyed must model knock::keyed_mac
// expect-also: k.verify(msg, tag_b64)
// A Mac's keyed state without `verify` is refused by wire::open before anything calls it.
#include <knock/cipher/any_of.hpp>
#include <knock/wire/packet.hpp>

#include "fakes.hpp"

using no_verify = knock::test::fake_keyed_mac</*Verify=*/false>;

[[maybe_unused]] auto opened(const knock::cipher::any_rijndael& cipher, knock::secret_view key) {
  const no_verify mac;
  return knock::wire::open("packet", cipher, key, &mac);
}
