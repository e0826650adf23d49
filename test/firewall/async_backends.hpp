// SPDX-License-Identifier: MIT
// Test backends for knock::firewall::async (async_test.cpp, async_held_test.cpp): what the writer
// did, a backend that can be held at a gate (and refuses timeout 13), a batching one; a grant
// request by number; waiting for answers.
#pragma once

#include <knock/firewall/async.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include <poll.h>

namespace knock::test_async {
using namespace knock;
using namespace std::chrono_literals;

// What the test backends saw, shared with the test (the backend itself lives in the writer).
struct seen {
  std::mutex m;
  std::condition_variable cv;
  bool gate_open = true;                 // closed: open() waits
  bool in_open = false;                  // a call of open() is waiting at the gate
  std::vector<unsigned> opened;          // grants' timeouts, in the order applied
  std::vector<std::size_t> batch_sizes;  // open_batch calls
  std::size_t expiries = 0;
  std::thread::id thread;

  void close_gate() {
    std::lock_guard l{m};
    gate_open = false;
  }
  void open_gate() {
    {
      std::lock_guard l{m};
      gate_open = true;
    }
    cv.notify_all();
  }
  void wait_in_open() {  // until the writer is blocked at the gate
    std::unique_lock l{m};
    cv.wait(l, [&] { return in_open; });
  }
};

// Refuses the grants whose timeout is 13, with a reason.
struct gated {
  using role = knock::role::firewall;
  std::shared_ptr<seen> s;
  result<void> open(const grant& g) {
    std::unique_lock l{s->m};
    s->thread = std::this_thread::get_id();
    s->in_open = true;
    s->cv.notify_all();
    s->cv.wait(l, [&] { return s->gate_open; });
    s->in_open = false;
    s->opened.push_back(g.timeout);
    if (g.timeout == 13) return fail(error{errc::firewall_failed, "gated: thirteen refused"});
    return {};
  }
  result<void> expire(epoch_seconds) {
    std::lock_guard l{s->m};
    ++s->expiries;
    return {};
  }
};
static_assert(firewall_policy<firewall::async<gated>>);
static_assert(firewall::deferring_firewall<firewall::async<gated>>);
static_assert(!firewall::nat_firewall<firewall::async<gated>>);

struct batching : gated {
  std::vector<result<void>> open_batch(std::span<const grant> gs) {
    {
      std::lock_guard l{s->m};
      s->batch_sizes.push_back(gs.size());
    }
    std::vector<result<void>> out;
    for (const auto& g : gs) out.push_back(open(g));
    return out;
  }
};
static_assert(firewall::batching_firewall<batching>);

inline firewall::grant_request request(unsigned id, bool nat = false) {
  firewall::grant_request r;
  r.granted.timeout = id;
  r.granted.ports.push_back(port_spec{ip_protocol::tcp, 22});
  r.nat = nat;
  r.packet_source = *ip_address::parse("192.0.2.7");
  r.stanza = 1;
  return r;
}

// Waits (up to 5 s) for the eventfd, then drains; the answers so far.
inline std::vector<firewall::answer> wait_answers(auto& fw, std::size_t want) {
  std::vector<firewall::answer> got;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (got.size() < want && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fw.answers_fd(), POLLIN, 0};
    ::poll(&p, 1, 100);
    fw.drain([&](firewall::answer a) { got.push_back(std::move(a)); });
  }
  return got;
}

}  // namespace knock::test_async
