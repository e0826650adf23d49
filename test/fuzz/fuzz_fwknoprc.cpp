// SPDX-License-Identifier: MIT
// libFuzzer: the .fwknoprc reader and writer. The input is the rc text; stanzas `default`, the
// first `[section]` name found in it, and that name with its case flipped are selected, and the
// text is rewritten with `update` (which must keep a re-select consistent).

#include <knock/client/fwknoprc.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text{reinterpret_cast<const char*>(data), size};
  (void)knock::fwknoprc::select(text, "default");

  std::string name = "myssh";
  if (const auto open = text.find('['); open != std::string_view::npos) {
    const auto close = text.find(']', open);
    if (close != std::string_view::npos) name.assign(text.substr(open + 1, close - open - 1));
  }
  const auto st = knock::fwknoprc::select(text, name);
  std::string flipped = name;
  for (char& c : flipped)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  (void)knock::fwknoprc::select(text, flipped);

  // Write the settings back (plus one more) and read them again.
  auto settings = st.settings;
  settings.push_back({"SPA_SERVER_PORT", "62201", 0});
  const std::string out = knock::fwknoprc::update(text, name, settings);
  (void)knock::fwknoprc::select(out, name);
  return 0;
}
