// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// OpenSSL for the Redis store's TLS (knock/replay/redis_socket.hpp), loaded when a `rediss://`
/// store first needs it (`dlopen` of libssl, which brings libcrypto), not linked (not API).
///
/// Why: linked, libssl and libcrypto are mapped and relocated at every start of every program that
/// can reach Redis — 1.7 MiB more resident in an idle knock-server (VmHWM 10.3 → 12.0 MiB,
/// measured), for a feature most gateways never turn on. Loaded on first use, they cost nothing
/// until then (the same choice systemd makes for its optional libraries). The headers give the
/// types and constants; each function is looked up once, by name, and called through `openssl()`.
/// The few that OpenSSL's headers define as macros over `SSL_ctrl` / `SSL_CTX_ctrl` are written out
/// where they are used.

#include <openssl/err.h>
#include <openssl/opensslv.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <string>

#include <dlfcn.h>

namespace knock::replay::detail {

// Every OpenSSL function the store calls (libssl's, then libcrypto's, found through libssl).
#define KNOCK_OPENSSL_FUNCTIONS(X)      \
  X(TLS_client_method)                  \
  X(SSL_CTX_new)                        \
  X(SSL_CTX_free)                       \
  X(SSL_CTX_ctrl)                       \
  X(SSL_CTX_set_verify)                 \
  X(SSL_CTX_use_certificate_chain_file) \
  X(SSL_CTX_use_PrivateKey_file)        \
  X(SSL_CTX_set_default_passwd_cb)      \
  X(SSL_CTX_check_private_key)          \
  X(SSL_new)                            \
  X(SSL_free)                           \
  X(SSL_set_fd)                         \
  X(SSL_get0_param)                     \
  X(SSL_set1_host)                      \
  X(SSL_ctrl)                           \
  X(SSL_connect)                        \
  X(SSL_get_error)                      \
  X(SSL_get_verify_result)              \
  X(SSL_read)                           \
  X(SSL_write)                          \
  X(SSL_shutdown)                       \
  X(SSL_CTX_get_cert_store)             \
  X(X509_STORE_new)                     \
  X(X509_STORE_free)                    \
  X(X509_STORE_load_locations)          \
  X(X509_STORE_set_default_paths)       \
  X(X509_STORE_add_lookup)              \
  X(X509_STORE_set_flags)               \
  X(X509_LOOKUP_file)                   \
  X(X509_load_crl_file)                 \
  X(X509_VERIFY_PARAM_set1_ip_asc)      \
  X(X509_verify_cert_error_string)      \
  X(ERR_get_error)                      \
  X(ERR_peek_error)                     \
  X(ERR_clear_error)                    \
  X(ERR_error_string_n)                 \
  X(ERR_reason_error_string)

/// The functions, as pointers of their declared types; `error` says why they are not there (then
/// every pointer is null).
struct openssl_functions {
#define KNOCK_OPENSSL_POINTER(name) decltype(&::name) name = nullptr;
  KNOCK_OPENSSL_FUNCTIONS(KNOCK_OPENSSL_POINTER)
#undef KNOCK_OPENSSL_POINTER
  std::string error;
};

#define KNOCK_OPENSSL_TEXT2(x) #x
#define KNOCK_OPENSSL_TEXT(x) KNOCK_OPENSSL_TEXT2(x)
/// libssl of the major version the headers are from ("libssl.so.3").
inline constexpr const char* libssl_name = "libssl.so." KNOCK_OPENSSL_TEXT(OPENSSL_SHLIB_VERSION);
#undef KNOCK_OPENSSL_TEXT
#undef KNOCK_OPENSSL_TEXT2

/// OpenSSL, loaded by the first call (thread-safe; never unloaded).
inline const openssl_functions& openssl() {
  static const openssl_functions loaded = [] {
    openssl_functions f;
    void* lib = ::dlopen(libssl_name, RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      const char* why = ::dlerror();
      f.error = std::string{"TLS: cannot load "} + libssl_name + ": " +
                (why != nullptr ? why : "unknown error") + " (Debian: apt install libssl3)";
      return f;
    }
    const auto missing = [&](const char* name) {
      f = openssl_functions{};
      f.error = std::string{"TLS: "} + libssl_name + " has no " + name;
      return f;
    };
#define KNOCK_OPENSSL_LOOK_UP(name)                                  \
  f.name = reinterpret_cast<decltype(&::name)>(::dlsym(lib, #name)); \
  if (f.name == nullptr) return missing(#name);
    KNOCK_OPENSSL_FUNCTIONS(KNOCK_OPENSSL_LOOK_UP)
#undef KNOCK_OPENSSL_LOOK_UP
    return f;
  }();
  return loaded;
}

#undef KNOCK_OPENSSL_FUNCTIONS

}  // namespace knock::replay::detail
