// SPDX-License-Identifier: MIT
#pragma once
// What the replay store tests share (replay_test.cpp, log_line_test.cpp): keys spread like digests,
// and a temporary directory removed at the end.
#include <knock/replay/concept.hpp>

#include <filesystem>
#include <random>
#include <string>

#include <unistd.h>

namespace knock::test_replay {
namespace fs = std::filesystem;

inline replay_key key(std::uint64_t n) {
  replay_key k;
  std::mt19937_64 rng{n};  // spread like a digest, reproducibly
  for (auto& b : k.bytes) b = static_cast<byte>(rng());
  return k;
}

struct temp_dir {
  fs::path path = fs::temp_directory_path() / ("knock-replay-" + std::to_string(::getpid()) + "-" +
                                               std::to_string(std::random_device{}()));
  temp_dir() { fs::create_directories(path); }
  ~temp_dir() { fs::remove_all(path); }
};

}  // namespace knock::test_replay
