// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::result<T, E>`: a value or an error, never an exception. It uses `std::expected`'s names
/// for the subset knock needs, so it can become `std::expected` once the toolchain has it.
///
/// `result<T>` carries a `knock::error` (`{errc, message}`) for everything that opens or changes a
/// resource; the packet path uses `result<T, errc>`, whose reason is the whole story and costs
/// nothing (knock/core/error.hpp).

#include <knock/core/error.hpp>

#include <cassert>
#include <memory>
#include <new>
#include <system_error>
#include <type_traits>
#include <utility>

namespace knock {

/// The error half of a result, as built by `knock::fail`.
template <class E>
struct failure {
  E error;
};

/// Builds a failed result: `return knock::fail(errc::bad_mac);`.
template <class E>
constexpr failure<std::decay_t<E>> fail(E&& e) {
  return {std::forward<E>(e)};
}

/// A `T` or an error `E`. Accessing the wrong half is a precondition violation (asserted), not a
/// throw.
template <class T, class E = error>
class [[nodiscard]] result {
 public:
  using value_type = T;
  using error_type = E;

  template <class U = T>
  requires std::is_constructible_v<T, U&&>
  constexpr result(U&& value)
      : ok_{true} {  // NOLINT(google-explicit-constructor): like std::expected
    std::construct_at(&value_, std::forward<U>(value));
  }
  template <class G>
  requires std::is_constructible_v<E, G&&>
  constexpr result(failure<G> f) : ok_{false} {  // NOLINT(google-explicit-constructor)
    std::construct_at(&error_, std::move(f.error));
  }
  constexpr result(const result& other) : ok_{other.ok_} {
    if (ok_)
      std::construct_at(&value_, other.value_);
    else
      std::construct_at(&error_, other.error_);
  }
  constexpr result(result&& other) noexcept(std::is_nothrow_move_constructible_v<T>)
      : ok_{other.ok_} {
    if (ok_)
      std::construct_at(&value_, std::move(other.value_));
    else
      std::construct_at(&error_, std::move(other.error_));
  }
  result& operator=(result other) noexcept(std::is_nothrow_move_constructible_v<T>) {
    destroy();
    ok_ = other.ok_;
    if (ok_)
      std::construct_at(&value_, std::move(other.value_));
    else
      std::construct_at(&error_, std::move(other.error_));
    return *this;
  }
  constexpr ~result() { destroy(); }

  constexpr bool has_value() const noexcept { return ok_; }
  constexpr explicit operator bool() const noexcept { return ok_; }

  constexpr T& operator*() & noexcept { return assert(ok_), value_; }
  constexpr const T& operator*() const& noexcept { return assert(ok_), value_; }
  constexpr T&& operator*() && noexcept { return assert(ok_), std::move(value_); }
  constexpr T* operator->() noexcept { return assert(ok_), &value_; }
  constexpr const T* operator->() const noexcept { return assert(ok_), &value_; }
  constexpr const E& error() const noexcept { return assert(!ok_), error_; }

  template <class U>
  constexpr T value_or(U&& fallback) const& {
    return ok_ ? value_ : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  constexpr void destroy() noexcept {
    if (ok_)
      std::destroy_at(&value_);
    else
      std::destroy_at(&error_);
  }

  union {
    T value_;
    E error_;
  };
  bool ok_;
};

/// A success without a value, or an error `E`.
template <class E>
class [[nodiscard]] result<void, E> {
 public:
  using value_type = void;
  using error_type = E;

  constexpr result() noexcept = default;
  template <class G>
  requires std::is_constructible_v<E, G&&>
  constexpr result(failure<G> f) : error_{std::move(f.error)}, ok_{false} {}  // NOLINT

  constexpr bool has_value() const noexcept { return ok_; }
  constexpr explicit operator bool() const noexcept { return ok_; }
  constexpr void operator*() const noexcept { assert(ok_); }
  constexpr const E& error() const noexcept { return assert(!ok_), error_; }

 private:
  E error_{};
  bool ok_ = true;
};

}  // namespace knock
