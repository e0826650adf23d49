// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::firewall::setup`: what a backend is made from — fwknopd.conf's variables, the ports to
/// protect, and whether it is set up to serve or attached to what is there (`--fw-list`,
/// `--fw-flush` next to a running daemon).

#include <knock/config/fwknopd_conf.hpp>
#include <knock/core/grant.hpp>

#include <span>

namespace knock::firewall {

/// How a backend is made.
enum class mode : bool {
  install,  ///< set up its rules to serve grants (the daemon)
  attach    ///< find and use what is there, changing nothing (`--fw-list`, `--fw-flush`)
};

/// Everything `F::make(setup)` may read.
struct setup {
  const config::fwknopd_conf& conf;            ///< the variables, with file:line for errors
  std::span<const port_spec> protected_ports;  ///< closed unless granted (may be empty)
  mode how = mode::install;
};

}  // namespace knock::firewall
