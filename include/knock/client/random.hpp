// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// Randomness for a client: `os_random`, a CSPRNG seeded from the operating system (Crypto++'s
/// `AutoSeededRandomPool`, which reads the OS entropy source), and `random_digits`, which makes
/// uniform decimal digits from random bytes. fwknop's own client takes its random field from
/// `rand()` seeded with 4 bytes (spec Q10); knock uses the CSPRNG for the salt and that field.

#include <knock/core/bytes.hpp>
#include <knock/core/error.hpp>
#include <knock/core/result.hpp>

#include <cryptopp/osrng.h>

#include <array>
#include <memory>
#include <span>

namespace knock {

/// A CSPRNG seeded from the OS. Move-only; never throws (Crypto++'s exceptions become `errc`).
class os_random {
 public:
  /// A generator seeded now; `errc::crypto_failed` when the OS gives no entropy.
  static result<os_random> make() noexcept {
    try {
      return os_random{std::make_unique<CryptoPP::AutoSeededRandomPool>()};
    } catch (...) {
      return fail(errc::crypto_failed);
    }
  }

  /// Fills `out` with random bytes.
  result<void> fill(bytes_span out) noexcept {
    try {
      pool_->GenerateBlock(out.data(), out.size());
      return {};
    } catch (...) {
      return fail(errc::crypto_failed);
    }
  }

 private:
  explicit os_random(std::unique_ptr<CryptoPP::AutoSeededRandomPool> pool) noexcept
      : pool_{std::move(pool)} {}
  std::unique_ptr<CryptoPP::AutoSeededRandomPool> pool_;  // Crypto++'s pool cannot move itself
};

/// Fills `out` with decimal digits, each uniform over 0..9, from the bytes `fill(bytes_span)`
/// writes (a `result<void>` function such as `os_random::fill`). Bytes 250..255 are rejected, so
/// `byte % 10` favours no digit. Expected cost: 1.03 random bytes per digit.
template <class Fill>
result<void> random_digits(Fill&& fill, std::span<char> out) {
  std::array<byte, 32> pool;
  std::size_t n = 0;
  while (n < out.size()) {
    if (auto r = fill(bytes_span{pool}); !r) return r;
    for (byte b : pool)
      if (b < 250 && n < out.size()) out[n++] = static_cast<char>('0' + b % 10);
  }
  secure_zero(pool.data(), pool.size());
  return {};
}

}  // namespace knock
