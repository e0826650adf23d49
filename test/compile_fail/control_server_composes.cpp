// SPDX-License-Identifier: MIT
// expect-success
// The control for the server cases: the same composition, complete, in any order, compiles.
#include <knock/cipher/any_of.hpp>
#include <knock/firewall/recording.hpp>
#include <knock/mac/any_of.hpp>
#include <knock/server.hpp>

using complete = knock::server<knock::firewall::recording, knock::mac::any_hmac,
                               knock::cipher::any_rijndael, knock::replay::memory_store>;
[[maybe_unused]] complete::rules_type rules;
[[maybe_unused]] knock::verdict first(complete& s, const knock::datagram& d) {
  return s.handle(d, 0);
}
