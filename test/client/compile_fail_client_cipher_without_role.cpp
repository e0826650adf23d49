// SPDX-License-Identifier: MIT
// expect-error: knock::client: Cipher must model knock::cipher_policy (knock/cipher/concept.hpp)
// expect-also: typename P::role
// A Cipher with every member but no role tag is refused where the user names knock::client.
#include <knock/client.hpp>

#include "compile_fail/fakes.hpp"

using untagged = knock::test::fake_cipher</*Role=*/false>;
static_assert(sizeof(knock::client<untagged, knock::mac::any_hmac>) > 0);
