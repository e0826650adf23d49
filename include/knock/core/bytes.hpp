// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// Byte views, zeroizing secrets and constant-time comparison.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>
#include <utility>

#include <string.h>  // explicit_bzero (glibc)

namespace knock {

using byte = unsigned char;                 ///< Crypto++ and the wire use unsigned char
using bytes_view = std::span<const byte>;   ///< read-only bytes
using bytes_span = std::span<byte>;         ///< writable bytes
using secret_view = std::span<const byte>;  ///< a key, borrowed: never log it

/// The bytes of `s`, viewed as unsigned chars.
inline bytes_view as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const byte*>(s.data()), s.size()};
}

/// The bytes of `b`, viewed as characters.
inline std::string_view as_chars(bytes_view b) noexcept {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

/// Overwrites `n` bytes at `p` with zeros in a way the optimiser keeps.
inline void secure_zero(void* p, std::size_t n) noexcept { ::explicit_bzero(p, n); }

/// Equality of two byte ranges in time that depends only on their lengths.
inline bool equal_ct(bytes_view a, bytes_view b) noexcept {
  if (a.size() != b.size()) return false;
  byte diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<byte>(a[i] ^ b[i]);
  // The asm barrier keeps the compiler from turning the loop into an early-exit comparison.
  asm volatile("" : "+r"(diff));
  return diff == 0;
}
inline bool equal_ct(std::string_view a, std::string_view b) noexcept {
  return equal_ct(as_bytes(a), as_bytes(b));
}

/// A key or other secret: owns its bytes, is move-only and zeroes them when destroyed.
/// It has no stream operator and no conversion to string, so it cannot end up in a log by accident.
class secret_bytes {
 public:
  secret_bytes() noexcept = default;
  explicit secret_bytes(bytes_view b) : data_{std::make_unique<byte[]>(b.size())}, size_{b.size()} {
    if (size_ != 0) std::memcpy(data_.get(), b.data(), size_);
  }
  explicit secret_bytes(std::string_view s) : secret_bytes{as_bytes(s)} {}
  secret_bytes(secret_bytes&& other) noexcept
      : data_{std::move(other.data_)}, size_{std::exchange(other.size_, 0)} {}
  secret_bytes& operator=(secret_bytes&& other) noexcept {
    if (this != &other) {
      wipe();
      data_ = std::move(other.data_);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  secret_bytes(const secret_bytes&) = delete;
  secret_bytes& operator=(const secret_bytes&) = delete;
  ~secret_bytes() { wipe(); }

  /// An explicit copy, so copies of secrets are visible in the code.
  secret_bytes clone() const { return secret_bytes{view()}; }

  secret_view view() const noexcept { return {data_.get(), size_}; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  friend bool operator==(const secret_bytes& a, const secret_bytes& b) noexcept {
    return equal_ct(a.view(), b.view());
  }

 private:
  void wipe() noexcept {
    if (data_) secure_zero(data_.get(), size_);
  }
  std::unique_ptr<byte[]> data_;
  std::size_t size_ = 0;
};

}  // namespace knock
