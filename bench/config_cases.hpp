// SPDX-License-Identifier: MIT
#pragma once
// knock-bench --access-file F [--fwknopd-conf C]: the decode/verify path of one configuration,
// stanza by stanza, knock beside libfko (config_cases.cpp; docs/PERFORMANCE.md).

#include <cstdint>
#include <optional>
#include <string>

namespace knock_bench {

struct config_options {
  std::string access_file;     ///< --access-file
  std::string fwknopd_conf;    ///< --fwknopd-conf: MAX_SPA_PACKET_AGE & co., GPG_HOME_DIR, NAT
  std::string gpg_home_dir;    ///< --gpg-home-dir: GnuPG stanzas' keyring when they name none
  bool allow_no_hmac = false;  ///< --allow-no-hmac, as knock-server's
  bool json = false;           ///< --json: the report as one JSON document on stdout
  std::int64_t clock_skew =
      0;                    ///< --clock-skew S: packets stamped S seconds before the server's now
  std::size_t pool = 4096;  ///< --pool N: fresh valid packets sealed per stanza
  std::string format = "console";  ///< --benchmark_format (the display reporter is knock-bench's)
};

/// Loads the configuration and registers its cases (`config/...`, `libfko/config/...`). Returns
/// 0, or the exit status after printing why not: 2 for a configuration error (file:line), 1 when a
/// case does not give its outcome (a valid packet refused).
int add_config_cases(const config_options& o);

/// Runs the registered cases (Google Benchmark's flags in argv apply) and prints the table, or
/// with --json the JSON document. Returns the exit status: 1 when a case failed.
int run_config_cases(const config_options& o);

}  // namespace knock_bench
