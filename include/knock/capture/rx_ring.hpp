// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::capture::detail::rx_ring`: a packet socket's TPACKET_V3 receive ring, read in place —
/// the small first stage of `packet_socket`'s capture (see there for the overflow behind it).
///
/// The kernel writes frames into blocks (packed at their captured size, each after a
/// `tpacket3_hdr` and the `sockaddr_ll` of where it came from) and hands a block over when it is
/// full or has waited `timeout_ms`; the reader takes the block's frames where they lie and hands it
/// back. No system call and no copy per frame: the copy a `recvmmsg` makes of each (cold) frame was
/// ≈0.8 µs a packet of the daemon's CPU in a burst (docs/PERFORMANCE.md). The blocks are resident
/// from the moment the ring is mapped, which is why the ring stays small.

#include <knock/core/bytes.hpp>
#include <knock/core/error.hpp>
#include <knock/core/result.hpp>

#include <linux/if_packet.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>

namespace knock::capture::detail {

/// A mapped TPACKET_V3 ring. Move-only; unmaps on destruction (the socket is its owner's).
class rx_ring {
 public:
  /// What the kernel handed over for one frame.
  struct frame {
    std::span<const byte> bytes;  ///< from the IP header (a `SOCK_DGRAM` socket)
    const sockaddr_ll& from;      ///< its protocol and packet type
    bool truncated;               ///< longer than the capture kept (the filter's snap length)
  };

  /// Sets up and maps a ring of `bytes` (rounded down to whole blocks, at least two) on the
  /// packet socket `fd`, which must not be bound yet. An error names the step that failed, with
  /// the kernel's reason: "PACKET_RX_RING: Cannot allocate memory".
  static result<rx_ring> map(int fd, std::size_t bytes, unsigned timeout_ms) {
    const auto failed = [](const char* what) {
      return fail(system_error(errc::capture_failed, what));
    };
    const int version = TPACKET_V3;
    if (::setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version) != 0)
      return failed("PACKET_VERSION");
    tpacket_req3 req{};
    req.tp_block_size = block_size;
    req.tp_block_nr = static_cast<unsigned>(bytes / block_size < 2 ? 2 : bytes / block_size);
    req.tp_frame_size = frame_size;  // V3 packs frames at their size; this only sizes the request
    req.tp_frame_nr = req.tp_block_nr * (block_size / frame_size);
    req.tp_retire_blk_tov = timeout_ms;
    if (::setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0)
      return failed("PACKET_RX_RING");
    rx_ring r;
    r.blocks_ = req.tp_block_nr;
    void* at = ::mmap(nullptr, r.size(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (at == MAP_FAILED) return failed("mmap of the ring");
    r.map_ = static_cast<byte*>(at);
    return r;
  }

  rx_ring(rx_ring&& o) noexcept
      : map_{std::exchange(o.map_, nullptr)},
        blocks_{o.blocks_},
        current_{o.current_},
        next_{std::exchange(o.next_, nullptr)},
        left_{o.left_} {}
  rx_ring& operator=(rx_ring&&) = delete;
  ~rx_ring() {
    if (map_) ::munmap(map_, size());
  }

  /// Bytes mapped (resident from the start).
  std::size_t size() const noexcept { return blocks_ * block_size; }

  /// Calls `f(const frame&)` for the frames ready now, at most `max`, in the order the kernel
  /// wrote them; returns how many. A block goes back to the kernel as soon as its last frame has
  /// been seen, so a frame's bytes are valid during its call only.
  template <class F>
  std::size_t read(std::size_t max, F&& f) {
    std::size_t n = 0;
    while (n < max) {
      auto* b = reinterpret_cast<tpacket_block_desc*>(map_ + current_ * block_size);
      if (next_ == nullptr) {  // a block not started: the kernel's still, or an empty one
        if ((__atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) == 0)
          break;
        left_ = b->hdr.bh1.num_pkts;
        next_ = reinterpret_cast<const byte*>(b) + b->hdr.bh1.offset_to_first_pkt;
      }
      if (left_ != 0) {
        const byte* at = next_;
        const auto* h = reinterpret_cast<const tpacket3_hdr*>(at);
        const auto* from =
            reinterpret_cast<const sockaddr_ll*>(at + TPACKET_ALIGN(sizeof(tpacket3_hdr)));
        next_ += h->tp_next_offset;  // 0 after the last frame, which `left_` stops at
        --left_;
        ++n;
        f(frame{{at + h->tp_net, h->tp_snaplen}, *from, h->tp_snaplen < h->tp_len});
      }
      if (left_ == 0) {  // seen whole: back to the kernel, on to the next block
        next_ = nullptr;
        __atomic_store_n(&b->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
        current_ = current_ + 1 == blocks_ ? 0 : current_ + 1;
      }
    }
    return n;
  }

 private:
  /// 64 KiB blocks: ≈190 SPA-sized frames each (a frame is its bytes plus ≈80 of headers).
  static constexpr unsigned block_size = 64 << 10;
  static constexpr unsigned frame_size = 2048;

  rx_ring() = default;

  byte* map_ = nullptr;
  std::size_t blocks_ = 0;
  std::size_t current_ = 0;     // the block read next
  const byte* next_ = nullptr;  // its next frame; null: not started
  std::uint32_t left_ = 0;      // its frames not yet seen
};

}  // namespace knock::capture::detail
