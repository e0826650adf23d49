// SPDX-License-Identifier: MIT
// expect-error: knock::wire::seal: Cipher must model knock::cipher_policy
// expect-also: c.decrypt(key, in, out)
// A Cipher with its role tag but no `decrypt` is refused by wire::seal before anything calls it.
#include <knock/mac/any_of.hpp>
#include <knock/wire/packet.hpp>

#include "fakes.hpp"

using no_decrypt = knock::test::fake_cipher</*Role=*/true, /*Decrypt=*/false>;

[[maybe_unused]] auto sealed(const knock::mac::any_hmac::keyed& mac, knock::secret_view key,
                             knock::bytes_view salt) {
  return knock::wire::seal(knock::spa_message{}, no_decrypt{}, key, &mac, salt);
}
