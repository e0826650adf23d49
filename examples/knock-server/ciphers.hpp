// SPDX-License-Identifier: MIT
#pragma once
// The ciphers knock-server serves: per stanza, fwknop's Rijndael (every mode, by ENCRYPTION_MODE),
// GnuPG (GPG_*), or both, the packet picking the side (knock/cipher/either.hpp).

#include <knock/cipher/any_of.hpp>
#include <knock/cipher/either.hpp>
#include <knock/cipher/gnupg.hpp>

namespace knock_server {

using server_cipher = knock::cipher::either<knock::cipher::any_rijndael, knock::cipher::gnupg>;

}  // namespace knock_server
