// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::cipher::rijndael<Mode>`: fwknop's Rijndael format. Key and IV come from OpenSSL's
/// EVP_BytesToKey (MD5, one round) over passphrase ‖ salt; the cipher is always AES-256; PKCS#7
/// padding is added in every mode and stripped as libfko strips it (only when well-formed, never an
/// error). Modes: `cbc` (default), `ctr`, `cfb` (CFB-128), `ofb`, `ecb` and `legacy` (CBC with the
/// passphrase padded with '0' or cut to 16 bytes, fwknop < 2.5).

#include <knock/cipher/concept.hpp>
#include <knock/core/error.hpp>
#include <knock/crypto/hash.hpp>

#include <cryptopp/aes.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <string_view>
#include <type_traits>

namespace knock {

/// Encryption modes, as types. Their names are fwknop's `ENCRYPTION_MODE` / `-M` values.
struct cbc {
  static constexpr std::string_view name = "cbc";
};
struct ctr {
  static constexpr std::string_view name = "ctr";
};
struct cfb {
  static constexpr std::string_view name = "cfb";
};
struct ofb {
  static constexpr std::string_view name = "ofb";
};
struct ecb {
  static constexpr std::string_view name = "ecb";
};
struct legacy {
  static constexpr std::string_view name = "legacy";
};

namespace cipher {

namespace detail {
using block = std::array<byte, 16>;
inline constexpr std::string_view salted_magic = "Salted__";
inline constexpr std::size_t max_passphrase = 32;

/// AES-256 key and IV from EVP_BytesToKey(MD5, 1 round); zeroed when destroyed.
struct derived_key {
  std::array<byte, 32> key;
  block iv;
  derived_key(secret_view pass, bytes_view salt) noexcept {
    std::array<byte, 16> d;
    for (std::size_t i = 0; i < 3; ++i) {
      crypto::block_hash<md5>::stream h;
      if (i != 0) h.update(d.data(), d.size());
      h.update(pass.data(), pass.size());
      h.update(salt.data(), salt.size());
      h.final(d.data());
      std::copy(d.begin(), d.end(), i < 2 ? key.begin() + 16 * i : iv.begin());
      h.wipe();
    }
    secure_zero(d.data(), d.size());
  }
  derived_key(const derived_key&) = delete;
  ~derived_key() {
    secure_zero(key.data(), key.size());
    secure_zero(iv.data(), iv.size());
  }
};

// Crypto++ keeps AES round keys in a heap block that is reused when the key size does not change,
// so one cipher object per thread makes every packet after the first allocation-free.
inline CryptoPP::AES::Encryption& aes_encryptor(const derived_key& k) {
  thread_local CryptoPP::AES::Encryption aes;
  aes.SetKey(k.key.data(), k.key.size());
  return aes;
}
inline CryptoPP::AES::Decryption& aes_decryptor(const derived_key& k) {
  thread_local CryptoPP::AES::Decryption aes;
  aes.SetKey(k.key.data(), k.key.size());
  return aes;
}

inline void increment_be(block& counter) noexcept {
  for (std::size_t i = counter.size(); i-- > 0;)
    if (++counter[i] != 0) break;
}
inline void xor_into(byte* out, const byte* a, const byte* b) noexcept {
  for (std::size_t i = 0; i < 16; ++i) out[i] = static_cast<byte>(a[i] ^ b[i]);
}

/// Transforms whole blocks `in` → `out` (`n` bytes, n % 16 == 0, no overlap) in `Mode`.
template <class Mode, bool Encrypt>
void run_mode(const derived_key& k, const byte* in, byte* out, std::size_t n) {
  constexpr auto parallel = CryptoPP::BlockTransformation::BT_AllowParallel;
  if constexpr (std::is_same_v<Mode, ecb>) {
    if constexpr (Encrypt)
      aes_encryptor(k).AdvancedProcessBlocks(in, nullptr, out, n, parallel);
    else
      aes_decryptor(k).AdvancedProcessBlocks(in, nullptr, out, n, parallel);
  } else if constexpr (std::is_same_v<Mode, cbc> || std::is_same_v<Mode, legacy>) {
    if constexpr (Encrypt) {
      auto& aes = aes_encryptor(k);
      const byte* prev = k.iv.data();
      for (std::size_t i = 0; i < n; i += 16, prev = out + i - 16) {
        block x;
        xor_into(x.data(), in + i, prev);
        aes.ProcessBlock(x.data(), out + i);
      }
    } else {
      auto& aes = aes_decryptor(k);
      aes.ProcessAndXorBlock(in, k.iv.data(), out);
      if (n > 16) aes.AdvancedProcessBlocks(in + 16, in, out + 16, n - 16, parallel);
    }
  } else if constexpr (std::is_same_v<Mode, cfb>) {
    auto& aes = aes_encryptor(k);  // CFB runs the cipher forwards both ways
    if constexpr (Encrypt) {
      const byte* prev = k.iv.data();
      for (std::size_t i = 0; i < n; i += 16, prev = out + i - 16)
        aes.ProcessAndXorBlock(prev, in + i, out + i);
    } else {
      aes.ProcessAndXorBlock(k.iv.data(), in, out);
      if (n > 16) aes.AdvancedProcessBlocks(in, in + 16, out + 16, n - 16, parallel);
    }
  } else if constexpr (std::is_same_v<Mode, ofb>) {
    auto& aes = aes_encryptor(k);
    block stream = k.iv;
    for (std::size_t i = 0; i < n; i += 16) {
      aes.ProcessBlock(stream.data());
      xor_into(out + i, in + i, stream.data());
    }
  } else {
    static_assert(std::is_same_v<Mode, ctr>, "knock::cipher::rijndael: unknown mode");
    auto& aes = aes_encryptor(k);
    block counter = k.iv;
    for (std::size_t i = 0; i < n; i += 16, increment_be(counter))
      aes.ProcessAndXorBlock(counter.data(), in + i, out + i);
  }
}
}  // namespace detail

/// fwknop's Rijndael cipher in `Mode`. Models knock::cipher_policy.
template <class Mode>
struct rijndael {
  using role = knock::role::cipher;
  using mode = Mode;
  static constexpr std::array<std::string_view, 1> names{Mode::name};

  /// A passphrase of 0..32 bytes.
  using key_type = secret_view;
  using key_storage = secret_bytes;  ///< what a stanza keeps: KEY / KEY_BASE64
  /// base64 of `Salted__`: every blob starts with it, so fwknop drops it from the wire.
  static constexpr std::string_view wire_prefix = "U2FsdGVkX1";

  static constexpr std::string_view name() noexcept { return Mode::name; }

  /// Rijndael data is shorter than fwknop's GnuPG threshold, unless the stanza lets long packets be
  /// tried with AES (ENABLE_CMD_EXEC): `errc::too_long_for_rijndael`.
  static constexpr result<void, errc> takes(std::size_t chars, long_packets long_ones) noexcept {
    if (chars >= gnupg_threshold && long_ones == long_packets::refuse)
      return fail(errc::too_long_for_rijndael);
    return {};
  }

  /// The test fwknop makes after decrypting, and the only one it has without an HMAC (spec Q7): a
  /// plaintext begins with 16 digits and ':'.
  static constexpr bool looks_decrypted(std::string_view text) noexcept {
    if (text.size() <= 16 || text[16] != ':') return false;
    for (std::size_t i = 0; i < 16; ++i)
      if (text[i] < '0' || text[i] > '9') return false;
    return true;
  }

  static result<rijndael> make(std::string_view name) noexcept {
    if (name.size() != Mode::name.size()) return fail(errc::config_invalid);
    for (std::size_t i = 0; i < name.size(); ++i)
      if ((name[i] | 0x20) != Mode::name[i]) return fail(errc::config_invalid);
    return rijndael{};
  }

  /// Decrypts `blob` (`Salted__` ‖ salt ‖ ciphertext) into `out` (≥ blob.size() bytes); returns the
  /// plaintext size. Never allocates after the first call on a thread.
  result<std::size_t, errc> decrypt(secret_view pass, bytes_view blob,
                                    bytes_span out) const noexcept {
    const std::size_t n = blob.size() - std::min(blob.size(), salted_header_size);
    if (n == 0 || n % 16 != 0 || out.size() < n || as_chars(blob.first(8)) != detail::salted_magic)
      return fail(errc::bad_ciphertext_length);
    return with_passphrase(pass, [&](secret_view key) -> result<std::size_t, errc> {
      const detail::derived_key k{key, blob.subspan(8, 8)};
      detail::run_mode<Mode, false>(k, blob.data() + salted_header_size, out.data(), n);
      return strip_padding({out.data(), n});
    });
  }

  /// Encrypts `text` under `pass` and the 8-byte `salt` into `out` (≥ max_blob_size(text.size())
  /// bytes).
  result<std::size_t, errc> encrypt(secret_view pass, bytes_view salt, bytes_view text,
                                    bytes_span out) const {
    const std::size_t padded = (text.size() / 16 + 1) * 16;
    std::array<byte, 1520> buf;  // fwknop plaintexts are < 1500 bytes
    if (salt.size() != 8 || out.size() < salted_header_size + padded || padded > buf.size())
      return fail(errc::invalid_request);
    std::copy(text.begin(), text.end(), buf.begin());
    std::fill(buf.begin() + text.size(), buf.begin() + padded,
              static_cast<byte>(padded - text.size()));
    std::copy(detail::salted_magic.begin(), detail::salted_magic.end(), out.begin());
    std::copy(salt.begin(), salt.end(), out.begin() + 8);
    auto written = with_passphrase(pass, [&](secret_view key) -> result<std::size_t, errc> {
      const detail::derived_key k{key, salt};
      detail::run_mode<Mode, true>(k, buf.data(), out.data() + salted_header_size, padded);
      return salted_header_size + padded;
    });
    secure_zero(buf.data(), buf.size());
    return written;
  }

 private:
  // Passphrases are 0..32 bytes; legacy mode pads short ones with '0' and cuts long ones to 16
  // bytes.
  template <class F>
  static result<std::size_t, errc> with_passphrase(secret_view pass, F&& f) noexcept {
    if (pass.size() > detail::max_passphrase) return fail(errc::bad_key);
    if constexpr (std::is_same_v<Mode, legacy>) {
      std::array<byte, 16> padded;
      padded.fill('0');
      std::copy_n(pass.begin(), std::min(pass.size(), padded.size()), padded.begin());
      auto r = f(secret_view{padded});
      secure_zero(padded.data(), padded.size());
      return r;
    } else {
      return f(pass);
    }
  }

  static std::size_t strip_padding(bytes_view text) noexcept {
    const byte v = text.back();
    if (v == 0 || v > 16 || v > text.size()) return text.size();
    for (std::size_t i = text.size() - v; i < text.size(); ++i)
      if (text[i] != v) return text.size();
    return text.size() - v;
  }
};

static_assert(cipher_policy<rijndael<cbc>>);

}  // namespace cipher
}  // namespace knock
