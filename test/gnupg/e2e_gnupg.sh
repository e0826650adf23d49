#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2119,SC2034  # functions run via check/wait_until; optional args
# e2e_gnupg.sh KNOCK_SERVER KNOCK_CLIENT - issue #15: the knock-server daemon (nftables, pcap,
# started as root, running as nobody) serves a GnuPG stanza next to a Rijndael one. The real fwknop
# client's GnuPG packet and knock-client's open the port; a Rijndael packet still finds its
# stanza; a replayed GnuPG packet and one encrypted to another key are refused with their reasons.
# Keys: fresh RSA-2048, no passphrase, throw-away homes under the test's temp dir (the server's
# owned by nobody, the account the daemon becomes). Namespaces and processes as test/e2e/lib.sh.
source "$(dirname "$0")/../e2e/lib.sh"
e2e_init "$@"
for t in gpg gpgconf; do command -v "$t" >/dev/null || skip "$t not found"; done

make_home() {  # make_home NAME: a home under $TMP with an RSA-2048 key and an encryption subkey
    local h=$TMP/gpg-$1 fpr
    mkdir -m 700 "$h"
    gpg --homedir "$h" --batch --passphrase '' --quick-gen-key "knock $1 <$1@knock.test>" \
        rsa2048 sign,cert never 2>/dev/null || die "gpg key for $1"
    fpr=$(gpg --homedir "$h" --with-colons -K | awk -F: '/^fpr/{print $10; exit}')
    gpg --homedir "$h" --batch --passphrase '' --quick-add-key "$fpr" rsa2048 encr never \
        2>/dev/null || die "gpg subkey for $1"
    gpg --homedir "$h" --export >"$TMP/$1.pub"
    echo "$fpr" >"$TMP/$1.fpr"
}
make_home server; make_home client; make_home other
gpg --homedir "$TMP/gpg-server" --batch --import "$TMP/client.pub" >/dev/null 2>&1
gpg --homedir "$TMP/gpg-client" --batch --import "$TMP/server.pub" "$TMP/other.pub" >/dev/null 2>&1
gpg --homedir "$TMP/gpg-server" --batch --yes --quick-lsign-key "$(cat "$TMP/client.fpr")" \
    >/dev/null 2>&1
for h in server client other; do gpgconf --homedir "$TMP/gpg-$h" --kill gpg-agent; done
chown -R nobody "$TMP/gpg-server"
SERVER_FPR=$(cat "$TMP/server.fpr") CLIENT_FPR=$(cat "$TMP/client.fpr")
OTHER_FPR=$(cat "$TMP/other.fpr")

e2e_topology
e2e_listener "$PORT"
e2e_conf FIREWALL_TYPE nftables
e2e_access FW_ACCESS_TIMEOUT 30
{
    echo
    echo "SOURCE              ANY"
    echo "GPG_HOME_DIR        $TMP/gpg-server"
    echo "GPG_DECRYPT_ID      $SERVER_FPR"
    echo "GPG_ALLOW_NO_PW     Y"
    echo "GPG_REMOTE_ID       ${CLIENT_FPR: -8}"
    echo "HMAC_KEY_BASE64     $HMAC_B64"
    echo "OPEN_PORTS          tcp/$PORT"
    echo "FW_ACCESS_TIMEOUT   30"
} >>"$ACCESS"
e2e_server_start
check "knock-server runs as nobody with a GnuPG stanza" log_has "running as nobody"

gpg_fwknop() {  # gpg_fwknop RECIPIENT [fwknop args]: the real fwknop client, GnuPG + HMAC
    local to=$1; shift
    in_ns "$NS_CLI" env HOME="$TMP/home" "$FWKNOP" --no-rc-file --no-save-args -D "$SRV_IP" \
        --gpg-recipient-key "$to" --gpg-signer-key "$CLIENT_FPR" --gpg-home-dir "$TMP/gpg-client" \
        --gpg-no-signing-pw --use-hmac --key-base64-hmac "$HMAC_B64" "$@" >/dev/null 2>&1
}

note "before the knock"
check "client cannot connect to tcp/$PORT before the knock" tcp_blocked "$NS_CLI" "$SRV_IP" "$PORT"

note "the real fwknop client, GnuPG (signed, HMAC-SHA256)"
log_mark
check "fwknop sends a GnuPG packet" gpg_fwknop "$SERVER_FPR" -A "tcp/$PORT" -a "$CLI_IP" \
    -B "$TMP/gpg.pkt"
expect_accept "$CLI_IP" 10
check "the GnuPG stanza (2) took it" log_has "stanza 2"
check "nft set allowed_v4 holds $CLI_IP" nft_set_has allowed_v4 "$CLI_IP"
check "client connects to tcp/$PORT after the knock" tcp_ok "$NS_CLI" "$SRV_IP" "$PORT"

note "the same GnuPG packet again"
log_mark
check "the saved packet is sent again" udp_send "$NS_CLI" "$SRV_IP" "$TMP/gpg.pkt"
check "knock-server refuses it: replayed" wait_until 5 log_has "packet from $CLI_IP: refused: replayed"

note "a GnuPG packet encrypted to another key (no HMAC matches either: bad_mac first)"
log_mark
check "fwknop sends a packet to another key" in_ns "$NS_CLI" env HOME="$TMP/home" "$FWKNOP" \
    --no-rc-file --no-save-args -D "$SRV_IP" --gpg-recipient-key "$OTHER_FPR" \
    --gpg-signer-key "$CLIENT_FPR" --gpg-home-dir "$TMP/gpg-client" --gpg-no-signing-pw \
    -A "tcp/$PORT" -a "$CLI_IP"
check "knock-server refuses it" wait_until 10 log_has "packet from $CLI_IP: refused"

note "knock-client, GnuPG"
log_mark
check "knock-client sends a GnuPG packet" in_ns "$NS_CLI" env HOME="$TMP/home" "$KNOCK_CLIENT" \
    --no-rc-file -D "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP" --gpg-recipient-key "$SERVER_FPR" \
    --gpg-signer-key "$CLIENT_FPR" --gpg-home-dir "$TMP/gpg-client" --gpg-no-signing-pw \
    --use-hmac --key-base64-hmac "$HMAC_B64"
expect_accept "$CLI_IP" 10

note "Rijndael, to the first stanza"
log_mark
check "fwknop sends a Rijndael packet" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP"
expect_accept "$CLI_IP"
check "the Rijndael stanza (1) took it" log_has "stanza 1"

e2e_finish
