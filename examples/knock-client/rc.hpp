// SPDX-License-Identifier: MIT
#pragma once
// The .fwknoprc side of a run: [default], then the named stanza, each applied through the variable
// table; and --save-rc-stanza, which writes what the command line said in fwknop's format.

#include "files.hpp"
#include "settings.hpp"

#include <knock/client/fwknoprc.hpp>

#include <algorithm>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace knock_client {

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
