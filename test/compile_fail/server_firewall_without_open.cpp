// SPDX-License-Identifier: MIT
// expect-error: knock::server: Firewall must model knock::firewall_policy
// expect-also: f.open(g)
// A Firewall with its role tag but no `open`: the message names the concept, g++ the member.
#include <knock/cipher/any_of.hpp>
#include <knock/core/result.hpp>
#include <knock/mac/any_of.hpp>
#include <knock/server.hpp>

struct half_firewall {
  using role = knock::role::firewall;
  knock::result<void> expire(knock::epoch_seconds) { return {}; }
};
using broken = knock::server<knock::cipher::any_rijndael, knock::mac::any_hmac, half_firewall>;
[[maybe_unused]] broken::rules_type rules;
