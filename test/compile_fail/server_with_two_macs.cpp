// SPDX-License-Identifier: MIT
// expect-error: knock::server: exactly one Mac policy is needed
// Two Mac policies is a mistake, not a choice: the server says which role is duplicated.
#include <knock/cipher/any_of.hpp>
#include <knock/firewall/recording.hpp>
#include <knock/mac/any_of.hpp>
#include <knock/server.hpp>

using doubled = knock::server<knock::cipher::any_rijndael, knock::mac::any_hmac,
                              knock::mac::hmac<knock::sha256>, knock::firewall::recording>;
[[maybe_unused]] doubled::rules_type rules;
