// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::replay::redis_tls_context`: the TLS client settings of a Redis store's connections
/// (knock/replay/redis_socket.hpp) — the CAs that sign the server's certificate, their revocation
/// lists, a client certificate, TLS 1.2 or later, peers verified — made once from `redis_tls_files`
/// and shared by every connection. A program that drops privileges makes it first (its key may be
/// root's). OpenSSL is loaded by the first one made (knock/replay/openssl_runtime.hpp).
///
/// Revocation lists expire (their nextUpdate) and are replaced on disk while the daemon runs: with
/// a CRL file, each new connection checks whether it or the CA file changed (device, inode, size,
/// modification time) and reads them again if so. A changed file that cannot be read refuses the
/// connection with why (fail closed: against the old list, a server revoked since would pass);
/// a connection already made is not checked again.

#include <knock/core/result.hpp>
#include <knock/replay/openssl_runtime.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include <sys/stat.h>

namespace knock::replay {

/// The files of a TLS connection to Redis (KNOCK_REPLAY_REDIS_TLS_*).
struct redis_tls_files {
  std::string ca_file;      ///< PEM CAs that sign the server's certificate; empty: the system's
  std::string cert_file;    ///< client certificate (PEM), for servers with tls-auth-clients yes
  std::string key_file;     ///< its private key (PEM)
  std::string server_name;  ///< the name the certificate must carry; empty: the endpoint's host
  /// PEM certificate revocation lists: set, a certificate revoked by its CA is refused, and every
  /// CA of the chain must have a CRL in the file that has not expired (OpenSSL's CRL_CHECK_ALL).
  std::string crl_file;
};

namespace detail {

// OpenSSL's queued errors as one sentence (the queue emptied), or `otherwise` when it is empty.
inline std::string openssl_errors(std::string_view otherwise) {
  const auto& ssl = openssl();
  std::string out;
  while (const unsigned long e = ssl.ERR_get_error()) {
    char text[256];
    ssl.ERR_error_string_n(e, text, sizeof text);
    const char* reason = ssl.ERR_reason_error_string(e);
    out += (out.empty() ? "" : "; ") + std::string{reason != nullptr ? reason : text};
  }
  return out.empty() ? std::string{otherwise} : out;
}

struct ssl_ctx_free {
  void operator()(SSL_CTX* c) const noexcept { openssl().SSL_CTX_free(c); }
};
struct ssl_free {
  void operator()(SSL* s) const noexcept { openssl().SSL_free(s); }
};
struct x509_store_free {
  void operator()(X509_STORE* s) const noexcept { openssl().X509_STORE_free(s); }
};

// A file as it was when read: any change to these reads it again (a missing file: all zero).
struct file_stamp {
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  timespec modified{};
  static file_stamp of(const std::string& path) noexcept {
    struct stat st {};
    if (path.empty() || ::stat(path.c_str(), &st) != 0) return {};
    return {st.st_dev, st.st_ino, st.st_size, st.st_mtim};
  }
  friend bool operator==(const file_stamp& a, const file_stamp& b) noexcept {
    return a.device == b.device && a.inode == b.inode && a.size == b.size &&
           a.modified.tv_sec == b.modified.tv_sec && a.modified.tv_nsec == b.modified.tv_nsec;
  }
};

}  // namespace detail

/// A TLS client context for Redis: the CAs, the client certificate, TLS 1.2+, peers verified.
/// Shared by every connection of a store (a handle: copies share one context).
class redis_tls_context {
 public:
  /// Loads the files; the error names the file and what is wrong with it.
  static result<redis_tls_context, std::string> make(const redis_tls_files& f) {
    const auto& ssl = detail::openssl();
    if (!ssl.error.empty()) return fail(ssl.error);
    ssl.ERR_clear_error();
    std::shared_ptr<SSL_CTX> ctx{ssl.SSL_CTX_new(ssl.TLS_client_method()), detail::ssl_ctx_free{}};
    if (!ctx) return fail("TLS: " + detail::openssl_errors("cannot make a context"));
    ssl.SSL_CTX_ctrl(ctx.get(), SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, nullptr);
    ssl.SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    ssl.SSL_CTX_ctrl(ctx.get(), SSL_CTRL_MODE, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_AUTO_RETRY,
                     nullptr);
    // Read whole records (and what follows) in one read, not a header then a body: a reply is a
    // record or two, so this halves the store's reads over TLS.
    ssl.SSL_CTX_ctrl(ctx.get(), SSL_CTRL_SET_READ_AHEAD, 1, nullptr);
    if (auto cas = load_cas(ssl.SSL_CTX_get_cert_store(ctx.get()), f.ca_file); !cas)
      return fail(cas.error());
    std::shared_ptr<revocation> crls;
    if (!f.crl_file.empty()) {  // the chain is checked against a store of its own (see above)
      crls = std::make_shared<revocation>(f.ca_file, f.crl_file);
      if (auto first = crls->current(); !first) return fail(first.error());
    }
    if (f.cert_file.empty() != f.key_file.empty())
      return fail(std::string{"TLS: a client certificate needs both its file and its key file"});
    if (!f.cert_file.empty()) {
      // No passphrase is ever asked for: OpenSSL's own callback would read one from the terminal
      // (a daemon would wait at start-up); an encrypted key is refused instead.
      ssl.SSL_CTX_set_default_passwd_cb(ctx.get(), &no_passphrase);
      if (ssl.SSL_CTX_use_certificate_chain_file(ctx.get(), f.cert_file.c_str()) != 1)
        return fail("TLS: " + f.cert_file + ": " + detail::openssl_errors("not a PEM certificate"));
      if (ssl.SSL_CTX_use_PrivateKey_file(ctx.get(), f.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
        return fail("TLS: " + f.key_file + ": " + detail::openssl_errors("not a PEM private key") +
                    " (a key protected by a passphrase cannot be used: none is asked for)");
      if (ssl.SSL_CTX_check_private_key(ctx.get()) != 1)
        return fail("TLS: " + f.key_file + ": not the key of " + f.cert_file);
    }
    redis_tls_context out;
    out.ctx_ = std::move(ctx);
    out.crls_ = std::move(crls);
    out.server_name_ = f.server_name;
    return out;
  }

  SSL_CTX* get() const noexcept { return ctx_.get(); }
  /// For a new connection: the store its server's chain is checked against — the CAs and the
  /// revocation lists as they are on disk now — or null without a CRL file (the context's own).
  /// An error when a changed file cannot be read (the connection is then refused).
  result<std::shared_ptr<X509_STORE>, std::string> verify_store() const {
    if (!crls_) return std::shared_ptr<X509_STORE>{};
    return crls_->current();
  }
  /// The name a server's certificate must carry; empty: the endpoint's host.
  const std::string& server_name() const noexcept { return server_name_; }

 private:
  static int no_passphrase(char*, int, int, void*) noexcept { return 0; }

  // `ca_file`'s CAs (empty: the system's) into `store`; the error names the file.
  static result<void, std::string> load_cas(X509_STORE* store, const std::string& ca_file) {
    const auto& ssl = detail::openssl();
    const bool loaded =
        store != nullptr &&
        (ca_file.empty() ? ssl.X509_STORE_set_default_paths(store) == 1
                         : ssl.X509_STORE_load_locations(store, ca_file.c_str(), nullptr) == 1);
    if (loaded) return {};
    return fail("TLS: " + (ca_file.empty() ? std::string{"the system's CAs"} : ca_file) + ": " +
                detail::openssl_errors("cannot be loaded"));
  }

  // The CA and CRL files, read again when either changed; shared by the context's copies and the
  // threads that connect through them.
  class revocation {
   public:
    revocation(std::string ca_file, std::string crl_file)
        : ca_file_{std::move(ca_file)}, crl_file_{std::move(crl_file)} {}
    result<std::shared_ptr<X509_STORE>, std::string> current() {
      std::lock_guard lock{m_};
      const auto ca = detail::file_stamp::of(ca_file_), crl = detail::file_stamp::of(crl_file_);
      if (store_ && ca == ca_stamp_ && crl == crl_stamp_) return store_;
      auto fresh = load();
      if (!fresh)
        return fail(fresh.error() + (store_ ? " (changed on disk; connections are refused until "
                                              "it can be read: against the old list, a server "
                                              "revoked since would pass)"
                                            : ""));
      store_ = *std::move(fresh), ca_stamp_ = ca, crl_stamp_ = crl;
      return store_;
    }

   private:
    result<std::shared_ptr<X509_STORE>, std::string> load() const {
      const auto& ssl = detail::openssl();
      ssl.ERR_clear_error();
      std::shared_ptr<X509_STORE> store{ssl.X509_STORE_new(), detail::x509_store_free{}};
      if (!store) return fail("TLS: " + detail::openssl_errors("cannot make a store"));
      if (auto cas = load_cas(store.get(), ca_file_); !cas) return fail(cas.error());
      X509_LOOKUP* file = ssl.X509_STORE_add_lookup(store.get(), ssl.X509_LOOKUP_file());
      if (file == nullptr ||
          ssl.X509_load_crl_file(file, crl_file_.c_str(), X509_FILETYPE_PEM) <= 0)
        return fail("TLS: " + crl_file_ + ": " +
                    detail::openssl_errors("no PEM certificate revocation list in it"));
      ssl.X509_STORE_set_flags(store.get(), X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
      return store;
    }

    const std::string ca_file_, crl_file_;
    std::mutex m_;
    detail::file_stamp ca_stamp_, crl_stamp_;
    std::shared_ptr<X509_STORE> store_;
  };

  std::shared_ptr<SSL_CTX> ctx_;
  std::shared_ptr<revocation> crls_;
  std::string server_name_;
};

}  // namespace knock::replay
