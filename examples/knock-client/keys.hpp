// SPDX-License-Identifier: MIT
#pragma once
// Keys: where they come from (--key-*, KEY*, -G FILE, --stdin / --fd, else a prompt on the
// terminal), fwknop's checks on them, and --key-gen. No message here ever quotes a key.

#include "settings.hpp"

#include <knock/client/random.hpp>
#include <knock/codec/base64.hpp>
#include <knock/core/bytes.hpp>
#include <knock/core/hash_id.hpp>

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace knock_client {

inline constexpr std::size_t max_key = 32;        // AES passphrase (libfko)
inline constexpr std::size_t max_hmac_key = 128;  // fwknop's client MAX_KEY_LEN

/// The keys a run uses.
struct key_material {
  knock::secret_bytes key;
  std::optional<knock::secret_bytes> hmac_key;
  knock::hash_id hmac_type = knock::hash_id::sha256;
};

/// fwknop reads a key from a terminal or --fd into a 128-byte buffer: it keeps the first 127
/// characters of a line and drops the rest.
inline constexpr std::size_t max_key_line = 127;

/// Reads one line (without its LF, nor a CR before it) from `fd`, a byte at a time so nothing after
/// it is consumed; as fwknop, only its first 127 characters are kept.
inline result<secret_text, std::string> read_line(int fd, std::string_view what) {
  std::string line;
  while (true) {
    char c = 0;
    const ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return knock::fail("reading the " + std::string{what} + ": " + std::strerror(errno));
    if (n == 0 || c == '\n') break;
    if (line.size() < max_key_line) line += c;
  }
  if (line.ends_with('\r')) line.pop_back();
  secret_text out{line};
  knock::secure_zero(line.data(), line.size());
  return out;
}

/// Asks for a key on the terminal, without echo (fwknop's prompt).
inline result<secret_text, std::string> prompt(const char* question, std::string_view what) {
  const int tty = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (tty < 0)
    return knock::fail("no " + std::string{what} +
                       " given (--key-base64-rijndael/--key-base64-hmac, --key-rijndael/"
                       "--key-hmac, -G/--get-hmac-key, --stdin or --fd) and no terminal to ask on");
  termios saved{};
  const bool is_tty = ::tcgetattr(tty, &saved) == 0;
  if (is_tty) {
    termios quiet = saved;
    quiet.c_lflag &= static_cast<tcflag_t>(~ECHO);
    ::tcsetattr(tty, TCSAFLUSH, &quiet);
  }
  [[maybe_unused]] const auto w = ::write(tty, question, std::strlen(question));
  auto line = read_line(tty, what);
  if (is_tty) ::tcsetattr(tty, TCSAFLUSH, &saved);
  [[maybe_unused]] const auto nl = ::write(tty, "\n", 1);
  ::close(tty);
  return line;
}

/// The key for `server` in a -G file: the last line `server: key` (fwknop's format).
inline result<secret_text, std::string> key_from_file(const std::string& path,
                                                      std::string_view server) {
  std::ifstream in{path};
  if (!in) return knock::fail("cannot read key file '" + path + "': " + std::strerror(errno));
  if (server.empty()) return knock::fail("a key file (-G) needs -D: its lines are 'server: key'");
  std::optional<secret_text> found;
  for (std::string line; std::getline(in, line);) {
    std::string_view l = line;
    while (!l.empty() && (l.front() == ' ' || l.front() == '\t' || l.front() == '='))
      l.remove_prefix(1);
    if (l.empty() || l.front() == '#' || l.front() == ';') continue;
    if (!l.starts_with(server) || l.size() == server.size() || l[server.size()] != ':') continue;
    l.remove_prefix(server.size() + 1);
    while (!l.empty() && (l.front() == ' ' || l.front() == '\t' || l.front() == '='))
      l.remove_prefix(1);
    if (l.ends_with('\r')) l.remove_suffix(1);
    found = secret_text{l};
    knock::secure_zero(line.data(), line.size());
  }
  if (!found || found->empty())
    return knock::fail("key file '" + path + "' has no key for '" + std::string{server} + "'");
  return *found;
}

/// The bytes of one key, from wherever `src` says, else from `input_fd`, else from a prompt.
inline result<knock::secret_bytes, std::string> load_key(const key_source& src,
                                                         std::string_view server,
                                                         std::optional<int> input_fd,
                                                         const char* question,
                                                         std::string_view what) {
  using kind = key_source::kind;
  result<secret_text, std::string> text = knock::fail(std::string{});
  const kind from = src.from();
  if (from == kind::text || from == kind::base64)
    text = src.value();
  else if (from == kind::file)
    text = key_from_file(src.value().str(), server);
  else if (input_fd)
    text = read_line(*input_fd, what);
  else
    text = prompt(question, what);
  if (!text) return knock::fail(text.error());
  if (from != kind::base64) return knock::secret_bytes{std::string_view{text->str()}};
  std::vector<knock::byte> raw(knock::codec::base64::decoded_size(text->str().size()) + 3);
  const auto n = knock::codec::base64::decode_padded(text->str(), raw.data());
  if (!n) return knock::fail("the " + std::string{what} + " is not base64");
  knock::secret_bytes out{knock::bytes_view{raw.data(), *n}};
  knock::secure_zero(raw.data(), raw.size());
  return out;
}

/// The keys `s` asks for, checked as fwknop checks them.
inline result<key_material, std::string> load_keys(const settings& s, std::optional<int> input_fd) {
  key_material k;
  auto key = load_key(s.key, s.server, input_fd, "Enter encryption key: ", "encryption key");
  if (!key) return knock::fail(key.error());
  if (key->empty()) return knock::fail(std::string{"the encryption key is empty"});
  if (key->size() > max_key)
    return knock::fail("the encryption key is " + std::to_string(key->size()) +
                       " bytes; fwknop takes at most 32");
  k.key = *std::move(key);
  if (!s.use_hmac) return k;
  if (s.mode == "legacy")
    return knock::fail(
        std::string{"legacy encryption mode cannot be used with an HMAC (as fwknop)"});
  auto hmac = load_key(s.hmac_key, s.server, input_fd, "Enter HMAC key: ", "HMAC key");
  if (!hmac) return knock::fail(hmac.error());
  if (hmac->empty()) return knock::fail(std::string{"the HMAC key is empty"});
  if (hmac->size() > max_hmac_key)
    return knock::fail("the HMAC key is " + std::to_string(hmac->size()) +
                       " bytes; fwknop takes at most 128");
  if (knock::equal_ct(hmac->view(), k.key.view()))
    return knock::fail(
        std::string{"the encryption key and the HMAC key must differ (as fwknop requires)"});
  k.hmac_key = *std::move(hmac);
  k.hmac_type = s.hmac_type.value_or(knock::hash_id::sha256);
  return k;
}

/// Standard base64 with '=' padding, as fwknop prints generated keys.
inline secret_text padded_base64(knock::bytes_view b) {
  std::string text(knock::codec::base64::encoded_size(b.size()), '\0');
  knock::codec::base64::encode(b, text.data());
  while (text.size() % 4 != 0) text += '=';
  secret_text out{text};
  knock::secure_zero(text.data(), text.size());
  return out;
}

/// fwknop's --key-gen: `key_len` random bytes for the AES key and `hmac_len` for the HMAC key,
/// whose default depends on the HMAC (none for SHA-3: fwknop refuses, spec Q16). Padded base64.
inline result<std::pair<secret_text, secret_text>, std::string> generate_keys(
    std::size_t key_len, std::optional<std::size_t> hmac_len, knock::hash_id hmac_type) {
  if (!hmac_len) switch (hmac_type) {
      case knock::hash_id::md5: hmac_len = 16; break;
      case knock::hash_id::sha1: hmac_len = 20; break;
      case knock::hash_id::sha256: hmac_len = 64; break;
      case knock::hash_id::sha384:
      case knock::hash_id::sha512: hmac_len = 128; break;
      case knock::hash_id::sha3_256:
      case knock::hash_id::sha3_512:
        return knock::fail("--key-gen for " + std::string{knock::to_string(hmac_type)} +
                           " needs --hmac-key-len (as fwknop)");
    }
  auto random = knock::os_random::make();
  if (!random) return knock::fail(std::string{"no randomness from the operating system"});
  std::vector<knock::byte> bytes(key_len + *hmac_len);
  if (!random->fill(bytes))
    return knock::fail(std::string{"no randomness from the operating system"});
  std::pair<secret_text, secret_text> out{padded_base64({bytes.data(), key_len}),
                                          padded_base64({bytes.data() + key_len, *hmac_len})};
  knock::secure_zero(bytes.data(), bytes.size());
  return out;
}

}  // namespace knock_client
