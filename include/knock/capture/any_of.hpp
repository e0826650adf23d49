// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::capture::any_of<Sources...>`: one of several capture sources, chosen at run time by
/// name. Like `knock::firewall::any_of`, everything that depends on the set is generated from
/// the compile-time list: the names `make` accepts and the variables the parser knows. Adding a
/// source is one header that models `knock::capture::configurable_capture` and one entry in the
/// list.

#include <knock/capture/concept.hpp>
#include <knock/core/name_list.hpp>

#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace knock::capture {

template <configurable_capture... Sources>
class any_of : public named_set<Sources...> {
  static_assert(sizeof...(Sources) > 0, "knock::capture::any_of: list at least one source");

 public:
  using role = knock::role::capture;

  /// Checks the variables of every source of the list that can (`checked_capture`), opening
  /// nothing.
  static result<void, config::config_error> check(const config::fwknopd_conf& conf) {
    result<void, config::config_error> out;
    (void)((check_one<Sources>(conf, out)) && ...);
    return out;
  }

  /// The source called `name`, made from `s`; an error naming the known ones otherwise.
  static result<any_of> make(std::string_view name, const setup& s) {
    std::optional<result<any_of>> made;
    any_of::visit_named(name, [&](auto m) { made.emplace(wrap(decltype(m)::type::make(s))); });
    if (made) return *std::move(made);
    return fail(error{errc::config_invalid, "capture '" + std::string{name} + "' is not one of " +
                                                join_names(any_of::names)});
  }

  template <class S>
  requires(std::is_same_v<S, Sources> || ...) explicit any_of(S source)
      : source_{std::move(source)} {}

  /// The chosen source's name.
  std::string_view name() const noexcept {
    return std::visit(
        [](const auto& c) { return std::string_view{std::decay_t<decltype(c)>::name}; }, source_);
  }
  /// What the source listens on ("UDP port 62201"), else its name.
  std::string describe() const {
    return std::visit(
        [](const auto& c) -> std::string {
          if constexpr (describing_capture<std::decay_t<decltype(c)>>)
            return c.describe();
          else
            return std::string{std::decay_t<decltype(c)>::name};
        },
        source_);
  }
  /// How sources alike share the traffic (`share_mode::none` when the source does not say).
  share_mode shared_by() const noexcept {
    return std::visit(
        [](const auto& c) {
          if constexpr (sharing_capture<std::decay_t<decltype(c)>>)
            return c.shared_by();
          else
            return share_mode::none;
        },
        source_);
  }
  /// What memory the source holds ("capture ring 3 MiB (eth0)"); empty when it does not say.
  std::string memory() const {
    return std::visit(
        [](const auto& c) -> std::string {
          if constexpr (memory_reporting_capture<std::decay_t<decltype(c)>>)
            return c.memory();
          else
            return {};
        },
        source_);
  }
  std::span<const int> fds() const noexcept {
    return std::visit([](const auto& c) { return c.fds(); }, source_);
  }
  template <class F>
  result<std::size_t> receive(F&& f) {
    return std::visit([&](auto& c) { return c.receive(f); }, source_);
  }
  /// The source's counters (zeros for one that keeps none).
  capture_stats stats() const noexcept {
    return std::visit(
        [](const auto& c) -> capture_stats {
          if constexpr (counting_capture<std::decay_t<decltype(c)>>)
            return c.stats();
          else
            return {};
        },
        source_);
  }

 private:
  template <class B>
  static bool check_one(const config::fwknopd_conf& conf, result<void, config::config_error>& out) {
    if constexpr (checked_capture<B>)
      if (auto ok = B::check(conf); !ok) return out = fail(ok.error()), false;
    return true;
  }
  template <class S>
  static result<any_of> wrap(result<S> made) {
    if (!made) return fail(made.error());
    return any_of{*std::move(made)};
  }

  std::variant<Sources...> source_;
};

}  // namespace knock::capture
