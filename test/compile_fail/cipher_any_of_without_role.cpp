// SPDX-License-Identifier: MIT
// expect-error: knock::cipher::any_of: every Cipher must model knock::cipher_policy
// expect-also: typename P::role
// A type with every member of a Cipher but no `using role = knock::role::cipher;` is refused where
// the user names it, with a message that names the concept.
#include <knock/cipher/any_of.hpp>

#include "fakes.hpp"

using untagged = knock::test::fake_cipher</*Role=*/false>;
[[maybe_unused]] knock::cipher::any_of<knock::cipher::rijndael<knock::cbc>, untagged> cipher;
