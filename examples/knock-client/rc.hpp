// SPDX-License-Identifier: MIT
#pragma once
// The .fwknoprc side of a run: [default], then the named stanza, each applied through the variable
// table; and --save-rc-stanza, which writes what the command line said in fwknop's format.

#include "files.hpp"
#include "settings.hpp"

#include <knock/client/fwknoprc.hpp>

#include <algorithm>
#include <array>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace knock_client {

/// fwknop's variables in the order --save-rc-stanza writes them (client/config_init.c).
inline constexpr std::array<std::string_view, 44> variable_order{"DIGEST_TYPE",
                                                                 "SPA_SERVER_PROTO",
                                                                 "SPA_SERVER_PORT",
                                                                 "SPA_SOURCE_PORT",
                                                                 "FW_TIMEOUT",
                                                                 "ALLOW_IP",
                                                                 "TIME_OFFSET",
                                                                 "ENCRYPTION_MODE",
                                                                 "USE_GPG",
                                                                 "USE_GPG_AGENT",
                                                                 "GPG_RECIPIENT",
                                                                 "GPG_SIGNER",
                                                                 "GPG_HOMEDIR",
                                                                 "GPG_EXE",
                                                                 "GPG_SIGNING_PW",
                                                                 "GPG_SIGNING_PW_BASE64",
                                                                 "GPG_NO_SIGNING_PW",
                                                                 "SPOOF_USER",
                                                                 "SPOOF_SOURCE_IP",
                                                                 "ACCESS",
                                                                 "SPA_SERVER",
                                                                 "RAND_PORT",
                                                                 "KEY",
                                                                 "KEY_BASE64",
                                                                 "HMAC_DIGEST_TYPE",
                                                                 "HMAC_KEY_BASE64",
                                                                 "HMAC_KEY",
                                                                 "USE_HMAC",
                                                                 "USE_WGET_USER_AGENT",
                                                                 "KEY_FILE",
                                                                 "HMAC_KEY_FILE",
                                                                 "NAT_ACCESS",
                                                                 "HTTP_USER_AGENT",
                                                                 "RESOLVE_URL",
                                                                 "SERVER_RESOLVE_IPV4",
                                                                 "NAT_LOCAL",
                                                                 "NAT_RAND_PORT",
                                                                 "NAT_PORT",
                                                                 "VERBOSE",
                                                                 "RESOLVE_IP_HTTP",
                                                                 "RESOLVE_IP_HTTPS",
                                                                 "RESOLVE_HTTP_ONLY",
                                                                 "WGET_CMD",
                                                                 "NO_SAVE_ARGS"};

/// The variables that hold one key: a new one replaces the others of its group.
inline int key_group(std::string_view name) {
  if (name == "KEY" || name == "KEY_BASE64" || name == "KEY_FILE") return 1;
  if (name == "HMAC_KEY" || name == "HMAC_KEY_BASE64" || name == "HMAC_KEY_FILE") return 2;
  if (name.starts_with("GPG_SIGN") || name == "GPG_RECIPIENT") return 3;
  return 0;
}

/// Applies every `[name]` section of `text` (read from `path`) to `s`. False when there is none.
inline result<bool, std::string> apply_stanza(settings& s, std::string_view text,
                                              std::string_view name, const std::string& path) {
  const knock::fwknoprc::stanza st = knock::fwknoprc::select(text, name);
  if (st.bad_line != 0)
    return knock::fail(path + ':' + std::to_string(st.bad_line) +
                       ": not a 'NAME value' line (in [" + std::string{name} + "])");
  for (const auto& setting : st.settings) {
    const auto r = apply(s, setting.name, setting.value);
    if (!r)
      return knock::fail(path + ':' + std::to_string(setting.line) + ": " +
                         values::printable(setting.name) + ": " + r.error());
  }
  return st.found;
}

/// The variables the command line set (the last value of each), as --save-rc-stanza writes them.
using saved_values = std::map<std::string, std::string>;

/// Writes stanza `name` into the rc file at `path` (`text`: its current content, if any): the
/// variables of `values`, plus the old stanza's keys whose group `values` does not set (fwknop
/// asks before replacing a key; knock-client keeps it unless --force-stanza).
inline result<void, std::string> save_stanza(const std::string& path,
                                             const std::optional<std::string>& text,
                                             std::string_view name, const saved_values& values,
                                             bool force) {
  std::vector<knock::fwknoprc::setting> kept;
  if (text && !force)
    for (auto& old : knock::fwknoprc::select(*text, name).settings) {
      const int group = key_group(old.name);
      const bool replaced = std::any_of(values.begin(), values.end(),
                                        [&](const auto& v) { return key_group(v.first) == group; });
      if (group != 0 && !replaced) kept.push_back(old);
    }
  std::vector<knock::fwknoprc::setting> out;
  for (std::string_view var : variable_order) {
    for (const auto& k : kept)
      if (k.name == var) out.push_back({k.name, k.value, 0});
    if (const auto v = values.find(std::string{var}); v != values.end()) {
      if (v->second.empty() || v->second.find_first_of(" \t;#\r\n") != std::string::npos)
        return knock::fail("cannot save " + v->first +
                           " in an rc file: fwknop ends a value at a space, tab, ';' or '#'");
      out.push_back({v->first, v->second, 0});
    }
  }
  std::string updated =
      knock::fwknoprc::update(text ? *text : std::string{"[default]\n"}, name, out);
  return write_private_file(path, updated);
}

}  // namespace knock_client
