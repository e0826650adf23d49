// SPDX-License-Identifier: MIT
// libFuzzer: access.conf text through `config::parse_access_conf` and `bind_access_conf` (with and
// without `allow_no_hmac`), and the same text as fwknopd.conf through `parse_fwknopd_conf`.
// (With the HMAC policy of fuzz_keys.hpp: clang 14 cannot build knock::mac::any_hmac.)
// No include_access is given, so `%include` lines are errors and nothing touches the disk.

#include "fuzz_keys.hpp"

#include <knock/config/access_conf.hpp>
#include <knock/config/fwknopd_conf.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text{reinterpret_cast<const char*>(data), size};
  if (auto raw = knock::config::parse_access_conf(text, "fuzz/access.conf")) {
    (void)knock::config::bind_access_conf<knock::cipher::any_rijndael, knock::fuzz::any_hmac>(
        *raw, "fuzz/access.conf");
    knock::config::bind_options lax;
    lax.allow_no_hmac = true;
    (void)knock::config::bind_access_conf<knock::cipher::any_rijndael, knock::fuzz::any_hmac>(
        *raw, "fuzz/access.conf", lax);
  }
  (void)knock::config::parse_fwknopd_conf(text, "fuzz/fwknopd.conf");
  return 0;
}
