// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `inline_string<N>`: a string of at most N characters stored in place, so decoded packets own
/// their fields without touching the heap.

#include <cstddef>
#include <cstring>
#include <string_view>

namespace knock {

/// A string of at most `N` characters with in-place storage. Copyable; never allocates.
template <std::size_t N>
class inline_string {
 public:
  static constexpr std::size_t capacity = N;

  constexpr inline_string() noexcept = default;

  /// Replaces the contents with `s`; false (and unchanged) when `s` is longer than `N`.
  bool assign(std::string_view s) noexcept {
    if (s.size() > N) return false;
    if (!s.empty()) std::memcpy(data_, s.data(), s.size());
    size_ = s.size();
    return true;
  }
  /// The buffer to write at most `N` characters into directly; finish with `resize`.
  char* data() noexcept { return data_; }
  void resize(std::size_t n) noexcept { size_ = n <= N ? n : N; }

  constexpr std::string_view view() const noexcept { return {data_, size_}; }
  constexpr operator std::string_view() const noexcept {
    return view();
  }  // NOLINT: a view, like std::string
  constexpr std::size_t size() const noexcept { return size_; }
  constexpr bool empty() const noexcept { return size_ == 0; }
  friend constexpr bool operator==(const inline_string& a, std::string_view b) noexcept {
    return a.view() == b;
  }

 private:
  char data_[N]{};
  std::size_t size_ = 0;
};

}  // namespace knock
