// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::replay::import_fwknop_digest_cache`: carries fwknopd's replay memory (its
/// `digest.cache`) into any ReplayStore, so switching from fwknopd does not reopen a window for the
/// packets it had seen.

#include <knock/codec/base64.hpp>
#include <knock/core/error.hpp>
#include <knock/core/result.hpp>
#include <knock/core/time.hpp>
#include <knock/replay/concept.hpp>

#include <charconv>
#include <cstddef>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

namespace knock::replay {

/// Imports fwknop's `digest.cache` (`<b64 SHA-256 of the packet> <proto> <src> <sport> <dst>
/// <dport> <time>` lines) into `store`: each digest is kept `lifetime` seconds past its recorded
/// time (use `never_expires` when packet aging is off); expired ones and invalid lines are skipped,
/// as fwknopd skips them. Returns how many entries were added, or the first error of the store or
/// of reading the file (`errc::io_failed`, naming it).
template <class Store>
result<std::size_t> import_fwknop_digest_cache(Store& store, const std::string& cache,
                                               epoch_seconds lifetime, epoch_seconds now) {
  static_assert(replay_policy<Store>,
                "knock::replay::import_fwknop_digest_cache: Store must model knock::replay_policy "
                "(knock/replay/concept.hpp)");
  std::ifstream in{cache};
  if (!in) return fail(system_error(errc::io_failed, cache + ": cannot read"));
  std::size_t added = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const std::string_view text = line;
    const std::string_view digest = text.substr(0, text.find(' '));
    const std::size_t last = text.rfind(' ');
    epoch_seconds when = 0;
    replay_key key;
    if (digest.size() != 43 || !codec::base64::decode(digest, key.bytes.data()) ||
        last == std::string_view::npos ||
        std::from_chars(text.data() + last + 1, text.data() + text.size(), when).ec != std::errc{})
      continue;
    const epoch_seconds expires = lifetime == never_expires ? never_expires : when + lifetime;
    if (expires <= now) continue;
    auto seen = store.remember(key, expires, now);
    if (!seen) return fail(seen.error());
    added += *seen == sighting::first;
  }
  if (in.bad()) return fail(error{errc::io_failed, cache + ": cannot read"});
  return added;
}

}  // namespace knock::replay
