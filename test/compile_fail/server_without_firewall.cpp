// SPDX-License-Identifier: MIT
// expect-error: knock::server: exactly one Firewall policy is needed
// A server composed without any Firewall policy fails where it is named.
#include <knock/cipher/any_of.hpp>
#include <knock/mac/any_of.hpp>
#include <knock/server.hpp>

using incomplete = knock::server<knock::cipher::any_rijndael, knock::mac::any_hmac>;
[[maybe_unused]] incomplete::rules_type rules;
