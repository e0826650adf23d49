// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::firewall::nft::session`: one libnftables context (link `-lnftables`; CMake target
/// `Nftables::Nftables`) that runs nft scripts and keeps what they print. It talks to the network
/// namespace it was opened in (libnftables binds its netlink socket then), whatever thread calls
/// it later. Errors are libnftables' own words, on one line (`nft::one_line`); the backend adds
/// what it was doing.

#include <knock/core/result.hpp>
#include <knock/firewall/nft/script.hpp>

#include <nftables/libnftables.h>

#include <memory>
#include <string>

namespace knock::firewall::nft {

/// A libnftables context with buffered output. Default-constructed, it is closed: `run` fails.
class session {
 public:
  session() = default;

  /// A new context; an error only when libnftables cannot make one.
  static result<session> open() {
    session s;
    s.ctx_.reset(nft_ctx_new(NFT_CTX_DEFAULT));
    if (!s.ctx_) return fail(error{errc::firewall_failed, "nft_ctx_new failed"});
    if (nft_ctx_buffer_output(s.ctx_.get()) != 0 || nft_ctx_buffer_error(s.ctx_.get()) != 0)
      return fail(error{errc::firewall_failed, "cannot buffer libnftables output"});
    return s;
  }

  bool is_open() const noexcept { return ctx_ != nullptr; }

  /// Runs `commands` (one transaction) with `output_flags` (`NFT_CTX_OUTPUT_*`); `output()` then
  /// holds what nft printed. The error's message is libnftables' (`Error: …`), on one line.
  result<void> run(const std::string& commands, unsigned output_flags = 0) {
    if (!ctx_) return fail(error{errc::firewall_failed, "not opened"});
    nft_ctx_output_set_flags(ctx_.get(), output_flags);
    const int rc = nft_run_cmd_from_buffer(ctx_.get(), commands.c_str());
    // Reading a buffer also empties it for the next command.
    output_ = nft_ctx_get_output_buffer(ctx_.get());
    std::string errors = nft_ctx_get_error_buffer(ctx_.get());
    if (rc == 0) return {};
    errors = one_line(errors);
    if (errors.empty()) errors = "libnftables failed (" + std::to_string(rc) + ")";
    return fail(error{errc::firewall_failed, std::move(errors)});
  }

  /// What the last successful `run` printed.
  const std::string& output() const noexcept { return output_; }

 private:
  struct context_free {
    void operator()(nft_ctx* c) const noexcept { nft_ctx_free(c); }
  };
  std::unique_ptr<nft_ctx, context_free> ctx_;
  std::string output_;
};

}  // namespace knock::firewall::nft
