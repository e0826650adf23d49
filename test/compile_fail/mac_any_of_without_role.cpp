// SPDX-License-Identifier: MIT
// expect-error: knock::mac::any_of: every Mac must model knock::mac_policy
// expect-also: typename P::role
// A type with every member of a Mac but no `using role = knock::role::mac;` is refused where the
// user names it, with a message that names the concept.
#include <knock/mac/any_of.hpp>

#include "fakes.hpp"

using untagged = knock::test::fake_mac</*Role=*/false>;
[[maybe_unused]] auto keyed =
    knock::mac::any_of<knock::mac::hmac<knock::sha256>, untagged>::make("sha256", {});
