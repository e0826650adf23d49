/*
 * fko_dump.c - decode one fwknop SPA wire packet with the real libfko and
 * print the decoded fields as a single JSON object.  Used as the oracle
 * when generating test vectors from the real fwknop client.
 *
 * Usage:
 *   fko_dump PACKET|- ENC_KEY_B64 HMAC_KEY_B64 HMAC_TYPE ENC_MODE
 *
 *   PACKET        the wire string; "-" reads it from stdin (one trailing
 *                 "\n" or "\r\n" is removed, as written by `fwknop -B`).
 *   ENC_KEY_B64   base64 of the raw AES passphrase bytes (in legacy mode
 *                 only the first 16 bytes are used, as client and server do).
 *   HMAC_KEY_B64  base64 of the raw HMAC key bytes; "" = no HMAC check.
 *   HMAC_TYPE     1 md5, 2 sha1, 3 sha256, 4 sha384, 5 sha512, 6 sha3_256,
 *                 7 sha3_512 (names accepted too); 0/""/none with no HMAC.
 *   ENC_MODE      1 ECB, 2 CBC, 3 CFB, 5 OFB, 6 CTR, 8 CBC_LEGACY_IV
 *                 (names ecb/cbc/cfb/ofb/ctr/legacy accepted too).
 *
 * Output on success (exit 0):
 *   {"rand_value": "...", "username": "...", "timestamp": N,
 *    "version": "...", "message_type": N, "message": "...",
 *    "nat_access": "..."|null, "server_auth": "..."|null,
 *    "client_timeout": N, "digest_type": N, "digest": "...",
 *    "encoded_data": "..."}
 * Output on a libfko failure (exit 1):
 *   {"error": "<fko_errstr(rc)>", "rc": N, "stage": "<step that failed>"}
 * Usage errors go to stderr (exit 2).
 *
 * Build: cc -o fko_dump fko_dump.c -lfko
 */
#include <fko.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void json_str(const char *s)
{
    const unsigned char *p;
    if (s == NULL) {
        fputs("null", stdout);
        return;
    }
    putchar('"');
    for (p = (const unsigned char *)s; *p != '\0'; p++) {
        switch (*p) {
        case '"':  fputs("\\\"", stdout); break;
        case '\\': fputs("\\\\", stdout); break;
        case '\n': fputs("\\n", stdout); break;
        case '\r': fputs("\\r", stdout); break;
        case '\t': fputs("\\t", stdout); break;
        default:
            if (*p < 0x20 || *p >= 0x7f)
                printf("\\u%04x", *p); /* bytes >= 0x80 shown as Latin-1 */
            else
                putchar(*p);
        }
    }
    putchar('"');
}

static int fail(const char *stage, int rc)
{
    fputs("{\"error\": ", stdout);
    json_str(fko_errstr(rc));
    printf(", \"rc\": %d, \"stage\": ", rc);
    json_str(stage);
    fputs("}\n", stdout);
    return 1;
}

static int usage(const char *msg)
{
    if (msg != NULL)
        fprintf(stderr, "fko_dump: %s\n", msg);
    fprintf(stderr,
            "usage: fko_dump PACKET|- ENC_KEY_B64 HMAC_KEY_B64 HMAC_TYPE ENC_MODE\n");
    return 2;
}

/* Standard base64 with optional '=' padding; returns length or -1. */
static int b64_decode(const char *in, unsigned char *out)
{
    unsigned int acc = 0;
    int bits = 0, n = 0, pad = 0;
    for (; *in != '\0'; in++) {
        int v;
        char c = *in;
        if (c >= 'A' && c <= 'Z') v = c - 'A';
        else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
        else if (c >= '0' && c <= '9') v = c - '0' + 52;
        else if (c == '+') v = 62;
        else if (c == '/') v = 63;
        else if (c == '=') { pad = 1; continue; }
        else return -1;
        if (pad)
            return -1; /* data after padding */
        acc = (acc << 6) | (unsigned int)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)((acc >> bits) & 0xff);
        }
    }
    return n;
}

static int parse_hmac_type(const char *s)
{
    static const char *names[] = {"none", "md5", "sha1", "sha256", "sha384",
                                  "sha512", "sha3_256", "sha3_512"};
    char *end;
    long v;
    int i;
    if (*s == '\0')
        return 0;
    for (i = 0; i < 8; i++)
        if (strcasecmp(s, names[i]) == 0)
            return i;
    v = strtol(s, &end, 10);
    if (*end != '\0' || v < 0 || v > 7)
        return -1;
    return (int)v;
}

static int parse_enc_mode(const char *s)
{
    static const struct { const char *name; int val; } names[] = {
        {"ecb", FKO_ENC_MODE_ECB}, {"cbc", FKO_ENC_MODE_CBC},
        {"cfb", FKO_ENC_MODE_CFB}, {"ofb", FKO_ENC_MODE_OFB},
        {"ctr", FKO_ENC_MODE_CTR}, {"legacy", FKO_ENC_MODE_CBC_LEGACY_IV},
        {"cbc_legacy_iv", FKO_ENC_MODE_CBC_LEGACY_IV},
    };
    char *end;
    long v;
    size_t i;
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(s, names[i].name) == 0)
            return names[i].val;
    v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v <= 0 || v >= FKO_LAST_ENC_MODE)
        return -1;
    return (int)v;
}

static char *read_stdin(void)
{
    size_t cap = 4096, len = 0, n;
    char *buf = malloc(cap);
    if (buf == NULL)
        return NULL;
    while ((n = fread(buf + len, 1, cap - len - 1, stdin)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
    }
    buf[len] = '\0';
    if (len > 0 && buf[len - 1] == '\n') {
        buf[--len] = '\0';
        if (len > 0 && buf[len - 1] == '\r')
            buf[--len] = '\0';
    }
    return buf;
}

int main(int argc, char **argv)
{
    fko_ctx_t ctx = NULL;
    char *packet;
    unsigned char *key, *hkey = NULL;
    int klen, hlen = 0, htype, mode, rc;
    char *rand_value = NULL, *username = NULL, *version = NULL;
    char *message = NULL, *nat_access = NULL, *server_auth = NULL;
    char *digest = NULL, *encoded = NULL;
    short msg_type = 0, digest_type = 0;
    int client_timeout = 0;
    time_t ts = 0;

    if (argc != 6)
        return usage(NULL);

    packet = strcmp(argv[1], "-") == 0 ? read_stdin() : argv[1];
    if (packet == NULL)
        return usage("cannot read packet from stdin");

    key = malloc(strlen(argv[2]) + 1);
    if (key == NULL || (klen = b64_decode(argv[2], key)) < 0)
        return usage("ENC_KEY_B64 is not valid base64");

    if (argv[3][0] != '\0') {
        hkey = malloc(strlen(argv[3]) + 1);
        if (hkey == NULL || (hlen = b64_decode(argv[3], hkey)) < 0)
            return usage("HMAC_KEY_B64 is not valid base64");
    }

    htype = parse_hmac_type(argv[4]);
    if (htype < 0)
        return usage("bad HMAC_TYPE");
    if (hkey != NULL && htype == 0)
        return usage("HMAC key given but HMAC_TYPE is none");

    mode = parse_enc_mode(argv[5]);
    if (mode < 0)
        return usage("bad ENC_MODE");

    /* libfko itself does not shorten keys in legacy mode, but both the
     * fwknop client and fwknopd truncate a legacy-mode key longer than 16
     * bytes to 16 before handing it to libfko; do the same here so a
     * vector's configured key decodes its packet. */
    if (mode == FKO_ENC_MODE_CBC_LEGACY_IV && klen > 16)
        klen = 16;

    /* Same order as a server: load data, authenticate, then decrypt. */
    rc = fko_new_with_data(&ctx, packet, NULL, 0, mode, NULL, 0,
                           htype == 0 ? FKO_HMAC_UNKNOWN : htype);
    if (rc != FKO_SUCCESS)
        return fail("new_with_data", rc);

    if (hkey != NULL) {
        rc = fko_verify_hmac(ctx, (const char *)hkey, hlen);
        if (rc != FKO_SUCCESS) {
            fko_destroy(ctx);
            return fail("hmac", rc);
        }
    }

    rc = fko_decrypt_spa_data(ctx, (const char *)key, klen);
    if (rc != FKO_SUCCESS) {
        fko_destroy(ctx);
        return fail("decrypt/decode", rc);
    }

#define GET(call, stage)                          \
    do {                                          \
        rc = (call);                              \
        if (rc != FKO_SUCCESS) {                  \
            fko_destroy(ctx);                     \
            return fail(stage, rc);               \
        }                                         \
    } while (0)

    /* Fetch everything first so a failing getter cannot leave half a
     * JSON object on stdout. */
    GET(fko_get_rand_value(ctx, &rand_value), "get_rand_value");
    GET(fko_get_username(ctx, &username), "get_username");
    GET(fko_get_timestamp(ctx, &ts), "get_timestamp");
    GET(fko_get_version(ctx, &version), "get_version");
    GET(fko_get_spa_message_type(ctx, &msg_type), "get_spa_message_type");
    GET(fko_get_spa_message(ctx, &message), "get_spa_message");
    GET(fko_get_spa_nat_access(ctx, &nat_access), "get_spa_nat_access");
    GET(fko_get_spa_server_auth(ctx, &server_auth), "get_spa_server_auth");
    GET(fko_get_spa_client_timeout(ctx, &client_timeout), "get_spa_client_timeout");
    GET(fko_get_spa_digest_type(ctx, &digest_type), "get_spa_digest_type");
    GET(fko_get_spa_digest(ctx, &digest), "get_spa_digest");
    GET(fko_get_encoded_data(ctx, &encoded), "get_encoded_data");

    if (nat_access != NULL && *nat_access == '\0')
        nat_access = NULL;
    if (server_auth != NULL && *server_auth == '\0')
        server_auth = NULL;

    fputs("{\"rand_value\": ", stdout);
    json_str(rand_value);
    fputs(", \"username\": ", stdout);
    json_str(username);
    printf(", \"timestamp\": %lld", (long long)ts);
    fputs(", \"version\": ", stdout);
    json_str(version);
    printf(", \"message_type\": %d", (int)msg_type);
    fputs(", \"message\": ", stdout);
    json_str(message);
    fputs(", \"nat_access\": ", stdout);
    json_str(nat_access);
    fputs(", \"server_auth\": ", stdout);
    json_str(server_auth);
    printf(", \"client_timeout\": %d", client_timeout);
    printf(", \"digest_type\": %d", (int)digest_type);
    fputs(", \"digest\": ", stdout);
    json_str(digest);
    fputs(", \"encoded_data\": ", stdout);
    json_str(encoded);
    fputs("}\n", stdout);

    fko_destroy(ctx);
    return 0;
}
