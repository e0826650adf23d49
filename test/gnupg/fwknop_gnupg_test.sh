#!/bin/bash
# GnuPG packets made by the real fwknop client, checked by `knock-server --decode` (issue #15).
# Keys are made fresh, without passphrases (one with), in throw-away GnuPG homes under a temporary
# directory; the fwknop client only writes packets to files (--test). Nothing leaves the machine.
#   usage: fwknop_gnupg_test.sh KNOCK_SERVER
set -u
server=$1
for tool in fwknop gpg gpgconf python3; do
  command -v $tool >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
tmp=$(mktemp -d /tmp/knock-gpg.XXXXXX)
homes=()
cleanup() {
  for h in "${homes[@]}"; do gpgconf --homedir "$h" --kill gpg-agent 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; failures=$((failures + 1)); }

# make_home NAME [PASSPHRASE]: a home with an RSA-2048 signing key and an encryption subkey.
make_home() {
  local h=$tmp/$1 pw=${2:-}
  mkdir -m 700 "$h"; homes+=("$h")
  gpg --homedir "$h" --batch --pinentry-mode loopback --passphrase "$pw" \
      --quick-gen-key "knock $1 <$1@knock.test>" rsa2048 sign,cert never 2>/dev/null
  local fpr; fpr=$(gpg --homedir "$h" --with-colons -K | awk -F: '/^fpr/{print $10; exit}')
  gpg --homedir "$h" --batch --pinentry-mode loopback --passphrase "$pw" \
      --quick-add-key "$fpr" rsa2048 encr never 2>/dev/null
  gpg --homedir "$h" --export > "$tmp/$1.pub"
  echo "$fpr" > "$tmp/$1.fpr"
}
import() { gpg --homedir "$tmp/$1" --batch --import "$tmp/$2.pub" 2>/dev/null; }
fpr() { cat "$tmp/$1.fpr"; }

make_home server; make_home client; make_home other; make_home locked sekret
import server client; import client server; import client other; import client locked
# The server's owner certifies the client's key (fwknopd wants a valid signer key by default).
gpg --homedir "$tmp/server" --batch --yes --quick-lsign-key "$(fpr client)" >/dev/null 2>&1
import locked client
gpg --homedir "$tmp/locked" --batch --yes --pinentry-mode loopback --passphrase sekret \
    --quick-lsign-key "$(fpr client)" >/dev/null 2>&1
# A signer the server knows but has not certified.
make_home stranger; import server stranger; import stranger server
client_id=$(fpr client | tail -c 9)
hmac=$(head -c 32 /dev/urandom | base64 -w0)

# packet NAME TO [fwknop options...]: a GnuPG packet to key TO, signed by $signer (the client)
# unless --unsigned comes first.
signer=client
packet() {
  local name=$1 to=$2; shift 2
  local sign=(--gpg-signer-key "$(fpr $signer)")
  if [ "${1:-}" = --unsigned ]; then sign=(); shift; fi
  HOME=$tmp fwknop --no-rc-file -A tcp/22 -a 10.0.0.1 -D 127.0.0.1 --test --gpg-encryption \
      --gpg-recipient-key "$(fpr "$to")" "${sign[@]}" --gpg-home-dir "$tmp/$signer" \
      --gpg-no-signing-pw -B "$tmp/$name.raw" "$@" >/dev/null 2>&1
  tr -d '\n' < "$tmp/$name.raw" > "$tmp/$name"
  [ -s "$tmp/$name" ] || bad "fwknop made no packet $name"
}

# stanza [VAR VALUE]...: a GnuPG stanza for the server's key, signer = the client.
stanza() {
  printf 'SOURCE ANY\nGPG_HOME_DIR %s\nGPG_DECRYPT_ID %s\nGPG_ALLOW_NO_PW Y\n' \
      "$tmp/server" "$(fpr server)"
  while [ $# -gt 1 ]; do printf '%s %s\n' "$1" "$2"; shift 2; done
}

# verdicts CONF PACKET...: knock-server --decode's reasons, one word per packet ("accepted").
verdicts() {
  local conf=$1; shift
  "$server" -a "$conf" --decode --allow-no-hmac "$@" 2>"$tmp/stderr" | python3 -c '
import json, sys
print(" ".join("accepted" if v["accepted"] else v.get("reason", "?") for v in map(json.loads, sys.stdin)))'
}
expect() {  # expect WHAT WANTED CONF PACKET...
  local what=$1 wanted=$2; shift 2
  local got; got=$(verdicts "$@")
  [ "$got" = "$wanted" ] && ok "$what: $got" || bad "$what: wanted '$wanted', got '$got' $(cat "$tmp/stderr")"
}

stanza GPG_REMOTE_ID "$client_id" > "$tmp/remote_id.conf"
stanza GPG_FINGERPRINT_ID "$(fpr client)" > "$tmp/fingerprint.conf"
stanza GPG_REMOTE_ID "$client_id" HMAC_KEY_BASE64 "$hmac" > "$tmp/hmac.conf"
stanza GPG_REMOTE_ID "$client_id" ENABLE_CMD_EXEC Y > "$tmp/cmd.conf"
stanza GPG_REMOTE_ID DEADBEEF > "$tmp/other_signer.conf"
stanza GPG_DISABLE_SIG Y > "$tmp/no_sig.conf"

packet access server
packet timeout server -f 120
packet command server --server-cmd "echo hello"
packet with_hmac server --use-hmac --key-base64-hmac "$hmac"
packet unsigned server --unsigned
packet to_other other
packet to_locked locked

expect "access packet, GPG_REMOTE_ID" "accepted" "$tmp/remote_id.conf" "$tmp/access"
expect "access packet, GPG_FINGERPRINT_ID" "accepted" "$tmp/fingerprint.conf" "$tmp/access"
expect "client timeout packet" "accepted" "$tmp/remote_id.conf" "$tmp/timeout"
expect "command packet, ENABLE_CMD_EXEC" "accepted" "$tmp/cmd.conf" "$tmp/command"
expect "packet with an HMAC" "accepted" "$tmp/hmac.conf" "$tmp/with_hmac"
expect "packet without an HMAC to a stanza with one" "bad_mac" "$tmp/hmac.conf" "$tmp/access"
expect "signer not in GPG_REMOTE_ID" "gnupg_signer_not_allowed" "$tmp/other_signer.conf" "$tmp/access"
expect "unsigned packet, signatures required" "gnupg_unsigned" "$tmp/remote_id.conf" "$tmp/unsigned"
expect "unsigned packet, GPG_DISABLE_SIG" "accepted" "$tmp/no_sig.conf" "$tmp/unsigned"
expect "packet encrypted to another key" "gnupg_wrong_recipient" "$tmp/remote_id.conf" "$tmp/to_other"
expect "replayed packet" "accepted replayed" "$tmp/remote_id.conf" "$tmp/access" "$tmp/access"

# Tampered: one character of the encrypted data changed (after the session key packet).
python3 - "$tmp/access" "$tmp/tampered" "$tmp/with_hmac" "$tmp/tampered_hmac" <<'PY'
import sys
for src, dst in ((sys.argv[1], sys.argv[2]), (sys.argv[3], sys.argv[4])):
    p = bytearray(open(src, 'rb').read())
    p[600] = ord('A') if p[600] != ord('A') else ord('B')
    open(dst, 'wb').write(p)
PY
expect "tampered ciphertext" "gnupg_decrypt_failed" "$tmp/remote_id.conf" "$tmp/tampered"
expect "tampered ciphertext with an HMAC" "bad_mac" "$tmp/hmac.conf" "$tmp/tampered_hmac"

# A signer key the server's keyring holds but has not certified: refused unless
# GPG_IGNORE_SIG_VERIFY_ERROR.
signer=stranger packet from_stranger server
stranger_id=$(fpr stranger | tail -c 9)
stanza GPG_REMOTE_ID "$stranger_id" > "$tmp/stranger.conf"
stanza GPG_REMOTE_ID "$stranger_id" GPG_IGNORE_SIG_VERIFY_ERROR Y > "$tmp/ignore.conf"
expect "signer key not valid in the keyring" "gnupg_bad_signature" "$tmp/stranger.conf" "$tmp/from_stranger"
expect "signer key not valid, GPG_IGNORE_SIG_VERIFY_ERROR" "accepted" "$tmp/ignore.conf" "$tmp/from_stranger"

# Rijndael and GnuPG stanzas side by side: each packet finds its own.
key=$(head -c 16 /dev/urandom | base64 -w0)
HOME=$tmp fwknop --no-rc-file -A tcp/22 -a 10.0.0.1 -D 127.0.0.1 --test --key-base64-rijndael "$key" \
    --use-hmac --key-base64-hmac "$hmac" -B "$tmp/rijndael.raw" >/dev/null 2>&1
tr -d '\n' < "$tmp/rijndael.raw" > "$tmp/rijndael"
{ printf 'SOURCE ANY\nKEY_BASE64 %s\nHMAC_KEY_BASE64 %s\n' "$key" "$hmac"; cat "$tmp/remote_id.conf"; } > "$tmp/mixed.conf"
got=$("$server" -a "$tmp/mixed.conf" --decode --allow-no-hmac "$tmp/rijndael" "$tmp/access" |
      python3 -c 'import json,sys; print(" ".join(str(v["stanza"]) if v["accepted"] else v["reason"] for v in map(json.loads, sys.stdin)))')
[ "$got" = "1 2" ] && ok "Rijndael and GnuPG stanzas in one file: stanzas $got" || bad "mixed stanzas: got '$got'"

# A key with a passphrase: GPG_DECRYPT_PW opens it.
printf 'SOURCE ANY\nGPG_HOME_DIR %s\nGPG_DECRYPT_PW sekret\nGPG_REMOTE_ID %s\n' "$tmp/locked" "$client_id" > "$tmp/locked.conf"
expect "key with a passphrase, GPG_DECRYPT_PW" "accepted" "$tmp/locked.conf" "$tmp/to_locked"

# Start-up errors: the file, the line, the stanza and what to do; no packet is looked at.
startup_error() {  # startup_error WHAT PATTERN CONF
  local out; out=$("$server" -a "$3" --decode --allow-no-hmac "$tmp/access" 2>&1 >/dev/null); local rc=$?
  if [ $rc -ne 0 ] && grep -q -- "$2" <<<"$out"; then ok "$1: $out"; else bad "$1: rc $rc, '$out'"; fi
}
stanza GPG_REMOTE_ID "$client_id" | sed "s|^GPG_HOME_DIR .*|GPG_HOME_DIR $tmp/missing|" > "$tmp/e1.conf"
startup_error "missing keyring" "e1.conf:2: GPG_HOME_DIR: '$tmp/missing' is not a directory" "$tmp/e1.conf"
stanza GPG_REMOTE_ID "$client_id" | sed "s|^GPG_DECRYPT_ID .*|GPG_DECRYPT_ID $(fpr other)|" > "$tmp/e2.conf"
startup_error "wrong key id" "e2.conf:4: GPG_ALLOW_NO_PW: GnuPG key of stanza SOURCE ANY: GPG_DECRYPT_ID '$(fpr other)': no secret key" "$tmp/e2.conf"
printf 'SOURCE ANY\nGPG_HOME_DIR %s\nGPG_ALLOW_NO_PW Y\nGPG_REMOTE_ID %s\n' "$tmp/locked" "$client_id" > "$tmp/e3.conf"
gpgconf --homedir "$tmp/locked" --kill gpg-agent  # forget the passphrase it was given
startup_error "key needs a passphrase, none given" "e3.conf:3: GPG_ALLOW_NO_PW: .*needs a passphrase: set GPG_DECRYPT_PW" "$tmp/e3.conf"
printf 'SOURCE ANY\nGPG_HOME_DIR %s\nGPG_DECRYPT_PW wrong\nGPG_REMOTE_ID %s\n' "$tmp/locked" "$client_id" > "$tmp/e4.conf"
startup_error "wrong passphrase" "e4.conf:3: GPG_DECRYPT_PW: .*GPG_DECRYPT_PW is not its passphrase" "$tmp/e4.conf"
stanza > "$tmp/e5.conf"
startup_error "no signer list" "GPG_ALLOW_NO_PW: GnuPG signatures are checked, so set GPG_REMOTE_ID or GPG_FINGERPRINT_ID" "$tmp/e5.conf"

echo "$failures failure(s)"
[ $failures -eq 0 ]
