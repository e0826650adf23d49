// SPDX-License-Identifier: MIT
#pragma once
// The access configuration knock-server runs with: ACCESS_FOLDER's `*.conf` files when set
// (`--access-folder`), else ACCESS_FILE (`-a`). As fwknopd, a broken stanza is left out and the
// others run — so an edit cannot lock an administrator out of the host SPA protects — and each
// one left out is reported with its file:line and why; `--strict-config` refuses the whole file
// instead (knock's behaviour before, and the library's default).

#include "ciphers.hpp"
#include "options.hpp"
#include "settings.hpp"

#include <knock/config/access_conf.hpp>

#include <string>
#include <vector>

namespace knock_server {

/// What loading the access configuration gave: the stanzas, and the ones left out.
template <class Cipher = server_cipher, class Mac = knock::mac::any_hmac>
struct loaded_access {
  std::vector<knock::access::stanza<Cipher, Mac>> stanzas;
  std::vector<knock::config::config_error> left_out;  ///< empty with --strict-config

  /// One line per stanza left out, for the log.
  std::vector<std::string> warnings() const {
    std::vector<std::string> out;
    for (const auto& e : left_out) {
      std::string line = to_string(e);
      if (line.find("--strict-config") == std::string::npos)  // else it says what happens
        line += " (stanza left out; the others run; --strict-config refuses instead)";
      out.push_back(std::move(line));
    }
    return out;
  }
};

/// Loads the stanzas `s` names, with the command line's choices in `o`, reading the files through
/// `files` (a reload after the privilege drop: what the configuration reader sent).
template <class Cipher = server_cipher, class Mac = knock::mac::any_hmac>
knock::result<loaded_access<Cipher, Mac>, knock::config::config_error> load_access(
    const settings& s, const options& o,
    const knock::config::include_access& files = knock::config::file_system()) {
  loaded_access<Cipher, Mac> out;
  // fwknopd.conf's GPG_HOME_DIR is a GnuPG stanza's default keyring; its GPG_EXE is read and not
  // used by fwknopd (a stanza's own GPG_EXE is), and so here.
  const knock::config::bind_options bind{
      .allow_no_hmac = o.allow_no_hmac,
      .skipped = o.strict_config ? nullptr : &out.left_out,
      .nat = s.server.nat,
      .gpg_home_dir =
          !o.gpg_home_dir.empty() ? o.gpg_home_dir : s.conf.text("GPG_HOME_DIR", "/root/.gnupg")};
  auto stanzas = s.access_folder.empty()
                     ? knock::config::load_access_conf<Cipher, Mac>(s.access_file, bind, files)
                     : knock::config::load_access_folder<Cipher, Mac>(s.access_folder, bind, files);
  if (!stanzas) return knock::fail(stanzas.error());
  out.stanzas = *std::move(stanzas);
  return out;
}

}  // namespace knock_server
