// SPDX-License-Identifier: MIT
#pragma once
// A firewall backend in one header, to prove the set is open: FIREWALL_TYPE toy writes each grant
// as a line to the file TOY_GRANTS names, lists that file (--fw-list) and empties it
// (--fw-flush). Added to a knock-server by this header and one entry in its list (toy_server.cpp).

#include <knock/firewall/concept.hpp>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace toy {

class firewall {
 public:
  using role = knock::role::firewall;
  static constexpr std::string_view name = "toy";
  static constexpr std::array<std::string_view, 1> variables{"TOY_GRANTS"};

  static knock::result<firewall> make(const knock::firewall::setup& s) {
    if (!s.conf.has("TOY_GRANTS"))
      return knock::fail(knock::error{knock::errc::config_invalid,
                                      "toy: set TOY_GRANTS to the file that gets the grants"});
    return firewall{s.conf.text("TOY_GRANTS")};
  }

  knock::result<void> open(const knock::grant& g) {
    std::string line = "open " + to_string(g.source);
    for (const auto& p : g.ports) line += " " + to_string(p);
    line += " for " + std::to_string(g.timeout) + " s";
    std::FILE* f = std::fopen(path_.c_str(), "a");
    if (f == nullptr)
      return knock::fail(knock::system_error(knock::errc::firewall_failed, "toy: " + path_));
    std::fprintf(f, "%s\n", line.c_str());
    std::fclose(f);
    return {};
  }
  knock::result<void> expire(knock::epoch_seconds) { return {}; }
  knock::result<std::vector<std::string>> list() {
    std::vector<std::string> lines;
    std::ifstream in{path_};
    for (std::string l; std::getline(in, l);) lines.push_back("toy: " + l);
    return lines;
  }
  knock::result<void> flush() {
    if (std::FILE* f = std::fopen(path_.c_str(), "w")) return std::fclose(f), knock::result<void>{};
    return knock::fail(knock::system_error(knock::errc::firewall_failed, "toy: " + path_));
  }

 private:
  explicit firewall(std::string path) : path_{std::move(path)} {}
  std::string path_;
};

static_assert(knock::firewall::configurable_firewall<firewall>);
static_assert(knock::firewall::listing_firewall<firewall> &&
              knock::firewall::flushing_firewall<firewall>);

}  // namespace toy
