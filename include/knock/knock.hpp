// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// Umbrella header: knock's core vocabulary (results, errors, bytes, roles) and the policy
/// concepts. Adaptors that pull in Crypto++ (cipher/rijndael.hpp, mac/hmac.hpp, wire/…) are
/// included on purpose, one by one, where they are needed.

#include <knock/cipher/concept.hpp>
#include <knock/core/bytes.hpp>
#include <knock/core/error.hpp>
#include <knock/core/hash_id.hpp>
#include <knock/core/inline_string.hpp>
#include <knock/core/result.hpp>
#include <knock/core/role.hpp>
#include <knock/mac/concept.hpp>
