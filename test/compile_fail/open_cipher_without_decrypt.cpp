// SPDX-License-Identifier: MIT
// expect-error: knock::wire::open: Cipher must model knock::cipher_policy
// expect-also: c.decrypt(key, in, out)
// A Cipher with its role tag but no `decrypt` is refused by wire::open before anything calls it.
#include <knock/mac/any_of.hpp>
#include <knock/wire/packet.hpp>

#include "fakes.hpp"

using no_decrypt = knock::test::fake_cipher</*Role=*/true, /*Decrypt=*/false>;

[[maybe_unused]] auto opened(const knock::mac::any_hmac::keyed& mac, knock::secret_view key) {
  return knock::wire::open("packet", no_decrypt{}, key, &mac);
}
