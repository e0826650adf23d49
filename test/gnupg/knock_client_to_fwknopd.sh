#!/usr/bin/env bash
# knock_client_to_fwknopd.sh KNOCK_CLIENT - knock-client's GnuPG packets open ports through the REAL
# fwknopd and its REAL iptables firewall (issue #15), in two network namespaces this script creates
# and always removes:  knc-gpg-cli-PID (no default route) --veth-- knc-gpg-srv-PID (fwknopd, INPUT DROP).
# Fresh RSA-2048 keys without passphrases in throw-away GnuPG homes; fwknopd's access.conf has a
# GnuPG stanza with an HMAC and one without. knock-client knocks signed, with and without an HMAC,
# and the rules must appear in FWKNOP_INPUT and the listener become reachable; a packet encrypted to
# another key opens nothing. The host's firewall is never touched.
# Exit: 0 passed, 1 failed, 77 skipped (not root, tools missing, no netns), 99 setup error.
set -uo pipefail
kc=${1:?usage: knock_client_to_fwknopd.sh path/to/knock-client}
export PATH="$PATH:/usr/sbin:/sbin"
skip() { echo "SKIP: $*"; exit 77; }
die() { echo "knock_client_to_fwknopd: $*" >&2; exit 99; }
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, fwknopd, iptables)"
for t in fwknopd ip iptables timeout socat gpg gpgconf; do
  command -v "$t" >/dev/null || skip "$t not found"
done
kc=$(realpath "$kc")

srv="knc-gpg-srv-$$" cli="knc-gpg-cli-$$" srv_if="kgs$$" cli_if="kgc$$"
x=$(( $$ % 250 + 1 ))
srv_ip="10.204.$x.1" cli_ip="10.204.$x.2"
tmp="" fwknopd_pid="" made=()
cleanup() {
  local rc=$? ns p h
  trap - EXIT INT TERM
  [ -n "$fwknopd_pid" ] && kill "$fwknopd_pid" 2>/dev/null && wait "$fwknopd_pid" 2>/dev/null
  for ns in "${made[@]}"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null; done
    sleep 0.2
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null || echo "WARNING: could not delete netns $ns" >&2
  done
  if [ -n "$tmp" ]; then
    for h in "$tmp"/server "$tmp"/client "$tmp"/other; do
      [ -d "$h" ] && gpgconf --homedir "$h" --kill gpg-agent 2>/dev/null
    done
    rm -rf "$tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
tmp=$(mktemp -d "${TMPDIR:-/tmp}/knock-gpg-fw.XXXXXX") || die "mktemp"
chmod 700 "$tmp"
mkdir -m 700 "$tmp/run"

# ---- keys ----------------------------------------------------------------------------------------
make_home() {
  local h=$tmp/$1 fpr
  mkdir -m 700 "$h"
  gpg --homedir "$h" --batch --passphrase '' \
      --quick-gen-key "knock $1 <$1@knock.test>" rsa2048 sign,cert never 2>/dev/null ||
    die "gpg key for $1"
  fpr=$(gpg --homedir "$h" --with-colons -K | awk -F: '/^fpr/{print $10; exit}')
  gpg --homedir "$h" --batch --passphrase '' --quick-add-key "$fpr" rsa2048 encr never \
      2>/dev/null || die "gpg subkey for $1"
  gpg --homedir "$h" --export >"$tmp/$1.pub"
  echo "$fpr" >"$tmp/$1.fpr"
}
make_home server; make_home client; make_home other
gpg --homedir "$tmp/server" --batch --import "$tmp/client.pub" >/dev/null 2>&1
gpg --homedir "$tmp/client" --batch --import "$tmp/server.pub" "$tmp/other.pub" >/dev/null 2>&1
gpg --homedir "$tmp/server" --batch --yes --quick-lsign-key "$(cat "$tmp/client.fpr")" \
    >/dev/null 2>&1
server_fpr=$(cat "$tmp/server.fpr") client_fpr=$(cat "$tmp/client.fpr")
other_fpr=$(cat "$tmp/other.fpr")
hmac=$(head -c 32 /dev/urandom | base64 -w0)

# ---- namespaces ------------------------------------------------------------------------------------
in_srv() { ip netns exec "$srv" "$@"; }
in_cli() { ip netns exec "$cli" "$@"; }
ip netns add "$srv" 2>"$tmp/err" || skip "cannot create network namespaces: $(cat "$tmp/err")"
made+=("$srv")
ip netns add "$cli" || die "ip netns add $cli"
made+=("$cli")
ip link add "$srv_if" netns "$srv" type veth peer name "$cli_if" netns "$cli" || die "veth"
ip -n "$srv" link set lo up && ip -n "$cli" link set lo up &&
  ip -n "$srv" addr add "$srv_ip/30" dev "$srv_if" &&
  ip -n "$cli" addr add "$cli_ip/30" dev "$cli_if" &&
  ip -n "$srv" link set "$srv_if" up && ip -n "$cli" link set "$cli_if" up || die "addresses"
ip -n "$cli" route show default | grep -q . && die "client namespace has a default route"
in_srv iptables -P INPUT DROP && in_srv iptables -A INPUT -i lo -j ACCEPT ||
  skip "iptables does not work in a namespace here"

printf '%s\n' \
  "SOURCE              ANY" \
  "GPG_HOME_DIR        $tmp/server" \
  "GPG_DECRYPT_ID      $server_fpr" \
  "GPG_ALLOW_NO_PW     Y" \
  "GPG_REMOTE_ID       ${client_fpr: -8}" \
  "HMAC_KEY_BASE64     $hmac" \
  "FW_ACCESS_TIMEOUT   120" \
  "" \
  "SOURCE              ANY" \
  "GPG_HOME_DIR        $tmp/server" \
  "GPG_ALLOW_NO_PW     Y" \
  "GPG_FINGERPRINT_ID  $client_fpr" \
  "FW_ACCESS_TIMEOUT   120" >"$tmp/access.conf"
printf '%s\n' \
  "PCAP_INTF                   $srv_if;" \
  "PCAP_FILTER                 udp port 62201;" \
  "ENABLE_SPA_PACKET_AGING     Y;" \
  "FWKNOP_RUN_DIR              $tmp/run;" \
  "FWKNOP_PID_FILE             $tmp/run/fwknopd.pid;" \
  "DIGEST_FILE                 $tmp/run/digest.cache;" \
  "ACCESS_FILE                 $tmp/access.conf;" \
  "GPG_HOME_DIR                $tmp/server;" >"$tmp/fwknopd.conf"
chmod 600 "$tmp/fwknopd.conf" "$tmp/access.conf"
in_srv fwknopd --foreground --verbose --config-file "$tmp/fwknopd.conf" \
  --access-file "$tmp/access.conf" --pid-file "$tmp/run/fwknopd.pid" --run-dir "$tmp/run" \
  --digest-file "$tmp/run/digest.cache" </dev/null >"$tmp/fwknopd.log" 2>&1 &
fwknopd_pid=$!
for _ in $(seq 100); do
  grep -q 'Starting fwknopd main event loop' "$tmp/fwknopd.log" && break
  kill -0 "$fwknopd_pid" 2>/dev/null || break
  sleep 0.1
done
grep -q 'Starting fwknopd main event loop' "$tmp/fwknopd.log" ||
  { tail -20 "$tmp/fwknopd.log" >&2; die "fwknopd did not start"; }

failed=0 passed=0
pass() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
connects() { in_cli timeout 1 bash -c "exec 3<>/dev/tcp/$srv_ip/$1" 2>/dev/null; }
in_srv socat -u TCP-LISTEN:2222,fork,reuseaddr OPEN:/dev/null </dev/null >/dev/null 2>&1 &
for _ in $(seq 50); do in_srv ss -Hltn 'sport = :2222' | grep -q . && break; sleep 0.1; done
if connects 2222; then bad "tcp/2222 reachable before knocking"; else pass "tcp/2222 closed before knocking"; fi

knock() {  # knock PORT RECIPIENT [options]
  local port=$1 to=$2
  shift 2
  in_cli "$kc" --no-rc-file -D "$srv_ip" -A "tcp/$port" -a "$cli_ip" --gpg-recipient-key "$to" \
    --gpg-signer-key "$client_fpr" --gpg-home-dir "$tmp/client" --gpg-no-signing-pw "$@" \
    2>"$tmp/err" >/dev/null || bad "knock-client failed for tcp/$port: $(cat "$tmp/err")"
}
knock 2222 "$server_fpr" --use-hmac --key-base64-hmac "$hmac"  # stanza 1 (HMAC)
knock 10001 "$server_fpr"                                     # stanza 2 (no HMAC)
knock 10002 "$other_fpr"                                      # nobody's key: opens nothing

rules() { in_srv iptables -L FWKNOP_INPUT -n 2>/dev/null; }
has_rule() { grep -Eq "^ACCEPT +6 +-- +$cli_ip +0\.0\.0\.0/0 +tcp dpt:$1 /\* _exp_[0-9]+ \*/" <<<"$2"; }
for _ in $(seq 150); do
  r=$(rules)
  has_rule 2222 "$r" && has_rule 10001 "$r" && break
  sleep 0.1
done
sleep 1  # the packet to another key went last: give fwknopd time to (not) act on it
r=$(rules)
if has_rule 2222 "$r"; then pass "GnuPG packet with an HMAC opened tcp/2222"; else bad "no rule for tcp/2222"; fi
if has_rule 10001 "$r"; then pass "GnuPG packet without an HMAC opened tcp/10001"; else bad "no rule for tcp/10001"; fi
if grep -q 'dpt:10002' <<<"$r"; then bad "a packet to another key opened tcp/10002"; else pass "a packet to another key opened nothing"; fi
if connects 2222; then pass "tcp/2222 reachable after knocking"; else bad "tcp/2222 not reachable after knocking"; fi
if [ $failed -ne 0 ]; then
  echo "---- fwknopd log ----"
  grep -Ei 'gpg|error|denied|fail|stanza' "$tmp/fwknopd.log" | tail -30
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
