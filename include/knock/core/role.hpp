// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// Role tags: each policy says which family it belongs to with `using role =
/// knock::role::<family>;`, so a type never models a concept by accident.

#include <concepts>

namespace knock {

namespace role {
struct cipher {};    ///< encrypts and decrypts SPA payloads (knock/cipher/concept.hpp)
struct mac {};       ///< authenticates the base64 ciphertext (knock/mac/concept.hpp)
struct replay {};    ///< remembers packets already seen
struct firewall {};  ///< opens and closes access
struct capture {};   ///< yields datagrams
struct observer {};  ///< receives one event per packet
}  // namespace role

/// True when `P` declares `using role = Role;`.
template <class P, class Role>
concept has_role = requires {
  typename P::role;
}
&&std::same_as<typename P::role, Role>;

}  // namespace knock
