// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::firewall::recording`: keeps the grants it is given and expires them on the server's
/// clock, touching no real firewall. For tests, `--test` / `--decode` runs, and embedding where the
/// caller applies grants itself.

#include <knock/firewall/concept.hpp>

#include <algorithm>
#include <vector>

namespace knock::firewall {

/// Records grants instead of applying them. Models knock::firewall_policy.
class recording {
 public:
  using role = knock::role::firewall;

  result<void> open(const grant& g) {
    open_.push_back(g);
    ++opened_;
    return {};
  }
  result<void> expire(epoch_seconds now) {
    std::erase_if(open_, [&](const grant& g) { return g.expires <= now; });
    return {};
  }

  /// Grants still open at the last `expire` call, oldest first.
  const std::vector<grant>& active() const noexcept { return open_; }
  /// Grants ever opened.
  std::size_t opened() const noexcept { return opened_; }

 private:
  std::vector<grant> open_;
  std::size_t opened_ = 0;
};

static_assert(firewall_policy<recording>);

}  // namespace knock::firewall
