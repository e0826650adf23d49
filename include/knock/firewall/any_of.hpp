// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::firewall::any_of<Backends...>`: one of several firewall backends, chosen at run time by
/// name (fwknopd.conf's FIREWALL_TYPE). The set is a compile-time list, and everything that
/// depends on it is generated from the list: the names `make` accepts, the variables the parser
/// knows, and the optional abilities (a backend without `list()` answers `--fw-list` with an
/// error saying so). Adding a backend is one header that models
/// `knock::firewall::configurable_firewall` and one entry in the list:
///
/// ```cpp
/// using firewalls = knock::firewall::any_of<knock::firewall::nftables,
///                                           knock::firewall::iptables,
///                                           knock::firewall::recording>;
/// auto fw = firewalls::make("nftables", {conf, ports});  // result<firewalls>
/// ```

#include <knock/core/name_list.hpp>
#include <knock/firewall/concept.hpp>

#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace knock::firewall {

template <configurable_firewall... Backends>
class any_of : public named_set<Backends...> {
  static_assert(sizeof...(Backends) > 0, "knock::firewall::any_of: list at least one backend");

 public:
  using role = knock::role::firewall;

  /// What the backend called `name` needs from the system once the daemon has dropped root.
  static constexpr privileges needs(std::string_view name) noexcept {
    privileges out;
    any_of::visit_named(name, [&](auto m) { out = needs_of<typename decltype(m)::type>(); });
    return out;
  }

  /// Checks the variables of every backend of the list that can (`checked_firewall`), opening
  /// nothing.
  static result<void, config::config_error> check(const config::fwknopd_conf& conf) {
    result<void, config::config_error> out;
    (void)((check_one<Backends>(conf, out)) && ...);
    return out;
  }

  /// The backend called `name`, made from `s`; an error naming the known ones otherwise. To serve
  /// (`mode::install`), a backend that changes the firewall (`privileged_firewall`) must honour
  /// every `config::firewall_feature_switches` set to Y (it lists it among its variables): else
  /// an error at the switch's file:line naming the backends that have it.
  static result<any_of> make(std::string_view name, const setup& s) {
    std::optional<result<any_of>> made;
    any_of::visit_named(name, [&](auto m) {
      using B = typename decltype(m)::type;
      if (auto honoured = honours_switches<B>(s); !honoured)
        made.emplace(fail(honoured.error()));
      else
        made.emplace(wrap(B::make(s)));
    });
    if (made) return *std::move(made);
    return fail(error{errc::config_invalid, "firewall '" + std::string{name} + "' is not one of " +
                                                join_names(any_of::names)});
  }

  template <class B>
  requires(std::is_same_v<B, Backends> || ...) explicit any_of(B backend)
      : backend_{std::move(backend)} {}

  /// The chosen backend's name.
  std::string_view name() const noexcept {
    return std::visit(
        [](const auto& b) { return std::string_view{std::decay_t<decltype(b)>::name}; }, backend_);
  }

  result<void> open(const grant& g) {
    return std::visit([&](auto& b) { return b.open(g); }, backend_);
  }
  /// A NAT grant, by the backend when it can NAT; `errc::nat_unsupported` otherwise.
  result<void> open_nat(const grant& g) {
    return std::visit(
        [&](auto& b) -> result<void> {
          if constexpr (nat_firewall<std::decay_t<decltype(b)>>)
            return b.open_nat(g);
          else
            return fail(
                error{errc::nat_unsupported, "firewall '" + std::string{name()} + "' cannot NAT"});
        },
        backend_);
  }
  /// Several plain grants: in one call to a batching backend, else one by one.
  std::vector<result<void>> open_batch(std::span<const grant> gs) {
    return std::visit(
        [&](auto& b) {
          if constexpr (batching_firewall<std::decay_t<decltype(b)>>) {
            return b.open_batch(gs);
          } else {
            std::vector<result<void>> out;
            out.reserve(gs.size());
            for (const grant& g : gs) out.push_back(b.open(g));
            return out;
          }
        },
        backend_);
  }
  result<void> expire(epoch_seconds now) {
    return std::visit([&](auto& b) { return b.expire(now); }, backend_);
  }
  /// `--fw-list`: the backend's lines, or an error when it cannot list.
  result<std::vector<std::string>> list() {
    return std::visit(
        [&](auto& b) -> result<std::vector<std::string>> {
          if constexpr (listing_firewall<std::decay_t<decltype(b)>>)
            return b.list();
          else
            return unable("list its grants");
        },
        backend_);
  }
  /// `--fw-flush`: removes the backend's rules, or an error when it cannot.
  result<void> flush() {
    return std::visit(
        [&](auto& b) -> result<void> {
          if constexpr (flushing_firewall<std::decay_t<decltype(b)>>)
            return b.flush();
          else
            return unable("flush its rules");
        },
        backend_);
  }
  /// How often the backend remade its rules (0 for one that does not repair itself).
  std::size_t repairs() const noexcept {
    return std::visit(
        [](const auto& b) -> std::size_t {
          if constexpr (self_repairing_firewall<std::decay_t<decltype(b)>>)
            return b.repairs();
          else
            return 0;
        },
        backend_);
  }
  /// Whether the chosen backend's calls never wait (false for one that does not say).
  bool instant() const noexcept {
    return std::visit(
        [](const auto& b) {
          if constexpr (instant_firewall<std::decay_t<decltype(b)>>)
            return b.instant();
          else
            return false;
        },
        backend_);
  }
  /// What the backend does when the daemon stops (nothing for most).
  result<void> stop() {
    return std::visit(
        [](auto& b) -> result<void> {
          if constexpr (stopping_firewall<std::decay_t<decltype(b)>>)
            return b.stop();
          else
            return {};
        },
        backend_);
  }

  /// The backend when it is a `B`, else null.
  template <class B>
  B* get_if() noexcept {
    return std::get_if<B>(&backend_);
  }

 private:
  template <class B>
  static bool check_one(const config::fwknopd_conf& conf, result<void, config::config_error>& out) {
    if constexpr (checked_firewall<B>)
      if (auto ok = B::check(conf); !ok) return out = fail(ok.error()), false;
    return true;
  }
  template <class B>
  static result<void> honours_switches(const setup& s) {
    if constexpr (privileged_firewall<B>) {
      if (s.how != mode::install) return {};  // --fw-list, --fw-flush: nothing is granted
      for (std::string_view sw : config::firewall_feature_switches) {
        if (config::detail::listed_in(B::variables, sw)) continue;
        auto on = s.conf.yes_no(sw, false);
        if (!on) return fail(error{errc::config_invalid, config::to_string(on.error())});
        if (!*on) continue;
        std::string message =
            "is a fwknopd feature firewall '" + std::string{B::name} + "' does not have";
        std::vector<std::string_view> with;
        ((config::detail::listed_in(Backends::variables, sw) ? with.push_back(Backends::name)
                                                             : void()),
         ...);
        if (!with.empty()) message += " (FIREWALL_TYPE " + join_names(with) + " has it)";
        return fail(error{errc::config_invalid, config::to_string(s.conf.error(sw, message))});
      }
    }
    return {};
  }
  template <class B>
  static constexpr privileges needs_of() noexcept {
    if constexpr (privileged_firewall<B>)
      return B::needs;
    else
      return {};
  }
  template <class B>
  static result<any_of> wrap(result<B> made) {
    if (!made) return fail(made.error());
    return any_of{*std::move(made)};
  }
  failure<error> unable(std::string_view what) const {
    return fail(error{errc::config_invalid,
                      "firewall '" + std::string{name()} + "' cannot " + std::string{what}});
  }

  std::variant<Backends...> backend_;
};

}  // namespace knock::firewall
