// SPDX-License-Identifier: MIT
#pragma once
// The steps fwknopd 2.6.10 (server/incoming_spa.c) takes around libfko for every packet, as
// knock-bench's libfko cases run them (libfko_cases.cpp, config_cases.cpp): the screening before
// any key, the replay digest, and the getters that read a decoded message's fields.

#include <benchmark/benchmark.h>
#include <fko.h>

#include <cctype>
#include <cstddef>
#include <cstring>
#include <ctime>

#include <string.h>  // strdup

namespace knock_bench::fwknopd {

/// incoming_spa.c: get_spa_data_fields.
inline int get_spa_data_fields(fko_ctx_t ctx) {
  char *username, *version, *message, *nat_access, *server_auth;
  time_t timestamp;
  short message_type;
  int client_timeout;
  int rc = fko_get_username(ctx, &username);
  if (rc == FKO_SUCCESS) rc = fko_get_timestamp(ctx, &timestamp);
  if (rc == FKO_SUCCESS) rc = fko_get_version(ctx, &version);
  if (rc == FKO_SUCCESS) rc = fko_get_spa_message_type(ctx, &message_type);
  if (rc == FKO_SUCCESS) rc = fko_get_spa_message(ctx, &message);
  if (rc == FKO_SUCCESS) rc = fko_get_spa_nat_access(ctx, &nat_access);
  if (rc == FKO_SUCCESS) rc = fko_get_spa_server_auth(ctx, &server_auth);
  if (rc == FKO_SUCCESS) rc = fko_get_spa_client_timeout(ctx, &client_timeout);
  benchmark::DoNotOptimize(username);
  benchmark::DoNotOptimize(message);
  return rc;
}

/// preprocess_spa_data (UDP, no SPA over HTTP) with utils.c's is_base64.
inline bool preprocess(const char* data, std::size_t len) {
  if (len < 120 || len > 1500) return false;  // MIN_SPA_DATA_SIZE, MAX_SPA_PACKET_LEN
  if (std::strncmp(data, "U2FsdGVkX1", 10) == 0) return false;
  if (len > 400 && std::strncmp(data, "hQ", 2) == 0) return false;
  for (std::size_t i = 0; i < len; ++i) {
    const auto ch = static_cast<unsigned char>(data[i]);
    if (!(std::isalnum(ch) || ch == '/' || ch == '+' || ch == '=')) return false;
  }
  return true;
}

/// get_raw_digest; the caller frees the digest.
inline int get_raw_digest(char** digest, const char* packet) {
  fko_ctx_t ctx = nullptr;
  int rc = fko_new_with_data(&ctx, packet, nullptr, 0, FKO_ENC_MODE_CBC, nullptr, 0, 0);
  if (rc != FKO_SUCCESS) {
    fko_destroy(ctx);
    return rc;
  }
  char* tmp = nullptr;
  rc = fko_set_raw_spa_digest_type(ctx, FKO_DIGEST_SHA256);
  if (rc == FKO_SUCCESS) rc = fko_set_raw_spa_digest(ctx);
  if (rc == FKO_SUCCESS) rc = fko_get_raw_spa_digest(ctx, &tmp);
  if (rc == FKO_SUCCESS) *digest = ::strdup(tmp);
  fko_destroy(ctx);
  return rc;
}

}  // namespace knock_bench::fwknopd
