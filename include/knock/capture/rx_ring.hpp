// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::capture::detail::rx_ring`: a packet socket's receive ring (TPACKET_V2), read in place —
/// the small first stage of `packet_socket`'s capture (see there for the socket behind it).
///
/// The kernel writes each frame into the next free slot (a `tpacket2_hdr`, the `sockaddr_ll` of
/// where it came from, the frame from its IP header) and marks it the reader's; the reader takes
/// the frame where it lies and marks the slot free again. No system call and no copy per frame: the
/// copy `recvmmsg` makes of each (cold) frame was ≈0.8 µs a packet of the daemon's CPU in a burst
/// (docs/PERFORMANCE.md). The slots are resident from the moment the ring is mapped, which is why
/// the ring stays small, and its slots too: `slot_size` bytes hold a frame of up to
/// `max_frame_bytes` (fwknop's Rijndael packets fit); the fanout group sends longer ones to the
/// socket instead.
///
/// Why V2, not V3 (blocks packed at the frames' sizes, libpcap's choice): a V3 ring that fills up
/// drops the frame that found it full, before the fanout group's rollover can send it on (the
/// kernel "freezes" the queue); a V2 ring is only chosen while its next slot is free (two CPUs
/// delivering at once can still race for the last free one: the loser is dropped and counted).

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

/// A mapped TPACKET_V2 ring. Move-only; unmaps on destruction (the socket is its owner's).
class rx_ring {
 public:
  /// Bytes a slot takes.
  static constexpr unsigned slot_size = 512;
  /// Where a `SOCK_DGRAM` frame starts in its slot (the kernel's `tpacket_rcv`: the header and
  /// the address, aligned, then 16 bytes).
  static constexpr unsigned frame_offset = TPACKET_ALIGN(TPACKET2_HDRLEN) + 16;
  /// The longest frame (from its IP header) a slot holds whole.
  static constexpr unsigned max_frame_bytes = slot_size - frame_offset;

  /// What the kernel handed over for one frame.
  struct frame {
    std::span<const byte> bytes;  ///< from the IP header (a `SOCK_DGRAM` socket)
    const sockaddr_ll& from;      ///< its protocol and packet type
    bool truncated;               ///< longer than the capture kept
  };

  /// Sets up and maps a ring of `bytes` (whole blocks of `block_size`, at least two) on the
  /// packet socket `fd`, which must not be bound yet. An error names the step that failed, with
  /// the kernel's reason: "PACKET_RX_RING: Cannot allocate memory".
  static result<rx_ring> map(int fd, std::size_t bytes) {
    const auto failed = [](const char* what) {
      return fail(system_error(errc::capture_failed, what));
    };
    const int version = TPACKET_V2;
    if (::setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version) != 0)
      return failed("PACKET_VERSION");
    tpacket_req req{};
    req.tp_block_size = block_size;
    req.tp_block_nr = static_cast<unsigned>(bytes / block_size < 2 ? 2 : bytes / block_size);
    req.tp_frame_size = slot_size;
    req.tp_frame_nr = req.tp_block_nr * slots_per_block;
    if (::setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0)
      return failed("PACKET_RX_RING");
    rx_ring r;
    r.slots_ = req.tp_frame_nr;
    void* at = ::mmap(nullptr, r.size(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (at == MAP_FAILED) return failed("mmap of the ring");
    r.map_ = static_cast<byte*>(at);
    return r;
  }

  rx_ring(rx_ring&& o) noexcept
      : map_{std::exchange(o.map_, nullptr)}, slots_{o.slots_}, next_{o.next_} {}
  rx_ring& operator=(rx_ring&&) = delete;
  ~rx_ring() {
    if (map_) ::munmap(map_, size());
  }

  /// Bytes mapped (resident from the start).
  std::size_t size() const noexcept { return slots_ / slots_per_block * block_size; }

  /// Calls `f(const frame&)` for the frames ready now, at most `max`, in the order the kernel
  /// wrote them; returns how many. Each slot is freed as soon as its call returns: a frame's bytes
  /// are valid during its call only.
  template <class F>
  std::size_t read(std::size_t max, F&& f) {
    std::size_t n = 0;
    for (; n < max; ++n) {
      byte* slot =
          map_ + next_ / slots_per_block * block_size + next_ % slots_per_block * slot_size;
      auto* h = reinterpret_cast<tpacket2_hdr*>(slot);
      if ((__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) == 0) break;
      const auto* from =
          reinterpret_cast<const sockaddr_ll*>(slot + TPACKET_ALIGN(sizeof(tpacket2_hdr)));
      f(frame{{slot + h->tp_net, h->tp_snaplen}, *from, h->tp_snaplen < h->tp_len});
      __atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
      next_ = next_ + 1 == slots_ ? 0 : next_ + 1;
    }
    return n;
  }

 private:
  /// 16 KiB blocks (four pages the kernel finds easily), 32 slots each.
  static constexpr unsigned block_size = 16 << 10;
  static constexpr unsigned slots_per_block = block_size / slot_size;

  rx_ring() = default;

  byte* map_ = nullptr;
  std::size_t slots_ = 0;
  std::size_t next_ = 0;  // the slot read next
};

}  // namespace knock::capture::detail
