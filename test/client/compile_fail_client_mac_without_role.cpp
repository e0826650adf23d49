// SPDX-License-Identifier: MIT
// expect-error: knock::client: Mac must model knock::mac_policy (knock/mac/concept.hpp)
// expect-also: typename P::role
// A Mac with every member but no role tag is refused where the user names knock::client.
#include <knock/client.hpp>

#include "compile_fail/fakes.hpp"

using untagged = knock::test::fake_mac</*Role=*/false>;
static_assert(sizeof(knock::client<knock::cipher::any_rijndael, untagged>) > 0);
