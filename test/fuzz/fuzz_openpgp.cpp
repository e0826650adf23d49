// SPDX-License-Identifier: MIT
// libFuzzer: `cipher::openpgp::read_recipients`, the header reader that picks a GnuPG stanza before
// any private-key work (issue #15). The input is the blob (a GnuPG packet's base64 decoded, `hQ`
// restored). What it accepts must lie inside the blob and leave data after the session keys.

#include <knock/cipher/openpgp.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const knock::bytes_view blob{reinterpret_cast<const knock::byte*>(data), size};
  const auto r = knock::cipher::openpgp::read_recipients(blob);
  if (r) {
    if (r->count == 0 || r->count > r->capacity) std::abort();
    if (r->header_size >= size || r->header_size < r->count * 13) std::abort();
    if (data[0] != 0x84 && data[0] != 0x85 && data[0] != 0x86 && data[0] != 0xC1) std::abort();
  }
  return 0;
}
