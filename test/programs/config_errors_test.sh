#!/bin/sh
# SPDX-License-Identifier: MIT
# knock-server on broken configurations, run for real (issue #7): for every kind of mistake in
# fwknopd.conf, access.conf and the files it includes, the start-up (-f -t: firewall 'none') must
# exit non-zero with the exact `file:line: VARIABLE: message` (or `file: reason` for a file it
# cannot read), and -D (dump) must refuse the same way. No key, in any
# spelling, may appear in any output. Needs no privileges; as root each run is inside a fresh
# network namespace (unshare -n), so even a config wrongly accepted cannot listen on the host.
#
# usage: config_errors_test.sh KNOCK_SERVER
set -eu
[ $# -eq 1 ] || { echo "usage: $0 KNOCK_SERVER" >&2; exit 2; }
exec python3 - "$1" <<'PY'
import base64, os, shutil, subprocess, sys, tempfile

server = sys.argv[1]
tmp = tempfile.mkdtemp(prefix="knock-config-errors-")
os.chmod(tmp, 0o755)  # knock-server may drop to 'nobody' once started (a config wrongly accepted)
passed, failed, notes = 0, 0, []
isolate = []
if os.geteuid() == 0 and shutil.which("unshare"):
    isolate = [shutil.which("unshare"), "-n"]

KEY = base64.b64encode(os.urandom(32)).decode()
HMAC = base64.b64encode(os.urandom(64)).decode()
PASS = "correct-horse-battery-" + os.urandom(4).hex()
secrets = [KEY, HMAC, PASS, KEY[:12], HMAC[:12], PASS[:12],
           base64.b64decode(KEY).hex(), base64.b64decode(HMAC).hex()[:24]]

def ok(cond, what, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok: {what}")
    else:
        failed += 1
        print(f"FAILED: {what}")
        if detail:
            print("  | " + detail.replace("\n", "\n  | "))
    return cond

def write(name, text, mode=0o644):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path

RUN = os.path.join(tmp, "run")
GOOD_CONF = (f"ENABLE_UDP_SERVER Y;\nUDPSERV_PORT 45991;\nFWKNOP_RUN_DIR {RUN};\n"
             f"FWKNOP_PID_FILE {RUN}/knock-server.pid;\nDIGEST_FILE {RUN}/replay.log;\n")
GOOD_STANZA = f"SOURCE ANY\nKEY_BASE64 {KEY}\nHMAC_KEY_BASE64 {HMAC}\nOPEN_PORTS tcp/22\n"

def run(args):
    p = subprocess.run(isolate + [server] + args, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, errors="replace", timeout=30)
    return p.returncode, p.stdout, p.stderr

def no_secrets(what, *texts):
    leaked = [s for s in secrets if any(s in t for t in texts)]
    ok(not leaked, f"{what}: no key material in the output",
       f"leaked: {[s[:4] + '…' for s in leaked]}")

def case(name, expected, conf=GOOD_CONF, access=GOOD_STANZA, files=None, args=()):
    """expected: the message after 'knock-server: ' ({conf}, {access}, {tmp} substituted), a
    prefix of one stderr line. -D must refuse with the same message."""
    for fname, text in (files or {}).items():
        write(fname, text)
    conf_path = write("fwknopd.conf", conf)
    access_path = write("access.conf", access, 0o640)
    want = "knock-server: " + expected.format(conf=conf_path, access=access_path, tmp=tmp)
    try:
        rc, out, err = run(["-f", "-t", "-c", conf_path, "-a", access_path, *args])
    except subprocess.TimeoutExpired:
        ok(False, f"{name}: start-up exits (it ran for 30 s: the mistake was accepted)")
        return
    lines = err.splitlines()
    ok(rc != 0, f"{name}: start-up exits non-zero (got {rc})", err)
    ok(any(l.startswith(want) for l in lines), f"{name}: says {want!r}", err)
    ok(not any("started:" in l for l in lines), f"{name}: never starts", err)
    no_secrets(name, out, err)
    rc_d, out_d, err_d = run(["-D", "-c", conf_path, "-a", access_path, *args])
    no_secrets(f"{name} (-D)", out_d, err_d)
    ok(rc_d != 0 and any(l.startswith(want) for l in err_d.splitlines()),
       f"{name}: -D refuses it too (exit {rc_d})", err_d)

# ---- fwknopd.conf -----------------------------------------------------------------------------
case("fwknopd.conf: unknown variable", "{conf}:6: NO_SUCH_THING: unknown variable",
     conf=GOOD_CONF + "NO_SUCH_THING 1;\n")
case("fwknopd.conf: bad value", "{conf}:6: MAX_SPA_PACKET_AGE: '0' is not a positive integer",
     conf=GOOD_CONF + "MAX_SPA_PACKET_AGE 0;\n")
case("fwknopd.conf: port out of range", "{conf}:2: UDPSERV_PORT: ",
     conf=GOOD_CONF.replace("UDPSERV_PORT 45991", "UDPSERV_PORT 70000"))
case("fwknopd.conf: not Y or N", "{conf}:1: ENABLE_UDP_SERVER: ",
     conf=GOOD_CONF.replace("ENABLE_UDP_SERVER Y", "ENABLE_UDP_SERVER yes"))
case("fwknopd.conf: unknown firewall", "{conf}:6: FIREWALL_TYPE: ",
     conf=GOOD_CONF + "FIREWALL_TYPE pfsense;\n")
case("fwknopd.conf: set twice", "{conf}:7: PCAP_FILTER: set twice (first on line 6)",
     conf=GOOD_CONF + "PCAP_FILTER udp;\nPCAP_FILTER tcp;\n")
case("fwknopd.conf: bad port list",
     "{conf}:6: KNOCK_PROTECTED_PORTS: 'bogus' is not tcp/PORT or udp/PORT",
     conf=GOOD_CONF + "KNOCK_PROTECTED_PORTS tcp/22,bogus;\n")
# Issue #18: the metrics listener's address and the textfile's path.
for bad in ("localhost:9466", "127.0.0.1", "::1:9466", "127.0.0.1:0"):
    case(f"fwknopd.conf: metrics listener {bad!r}",
         f"{{conf}}:6: KNOCK_METRICS_LISTEN: '{bad}' is not ADDRESS:PORT",
         conf=GOOD_CONF + f"KNOCK_METRICS_LISTEN {bad};\n")
case("fwknopd.conf: metrics file not absolute",
     "{conf}:6: KNOCK_METRICS_FILE: 'knock.prom' is not an absolute path",
     conf=GOOD_CONF + "KNOCK_METRICS_FILE knock.prom;\n")
case("fwknopd.conf: missing file", "{tmp}/no-such-fwknopd.conf: cannot read: No such file or directory",
     args=("-c", os.path.join(tmp, "no-such-fwknopd.conf")))
case("--protect: bad port", "command line: --protect: 'tcp/99999' is not tcp/PORT or udp/PORT",
     args=("--protect", "tcp/99999"))

# ---- access.conf: syntax ----------------------------------------------------------------------
case("access.conf: unknown variable", "{access}:5: OPEN_PORTZ: unknown variable",
     access=GOOD_STANZA + "OPEN_PORTZ tcp/23\n")
case("access.conf: variable before SOURCE", "{access}:1: KEY_BASE64: comes before the first SOURCE line",
     access=f"KEY_BASE64 {KEY}\n" + GOOD_STANZA)
# fwknopd takes the later line (knock's default too, with a warning); --strict-config refuses.
case("access.conf: set twice (--strict-config)",
     "{access}:5: KEY_BASE64: set twice in one stanza (first on line 2)",
     access=GOOD_STANZA + f"KEY_BASE64 {KEY}\n", args=("--strict-config",))
case("access.conf: no value", "{access}:5: FW_ACCESS_TIMEOUT: has no value",
     access=GOOD_STANZA + "FW_ACCESS_TIMEOUT\n")
case("access.conf: binary junk", "{access}:5: line does not start with a variable name",
     access=GOOD_STANZA + "\x01\x02\x7fjunk " + KEY + "\n")
case("access.conf: no stanza", "{access}: no stanza", access="# only a comment\n")
case("access.conf: missing file", "{tmp}/no-such-access.conf: cannot read: No such file or directory",
     args=("-a", os.path.join(tmp, "no-such-access.conf")))
case("access.conf: error in an included file",
     "{tmp}/included.conf:2: OPEN_PORTZ: unknown variable",
     files={"included.conf": f"SOURCE 192.0.2.0/24\nOPEN_PORTZ tcp/22\nKEY {PASS}\n"},
     access=f"%include {tmp}/included.conf\n" + GOOD_STANZA)
# The %include line that names it, then the missing file and the reason.
case("access.conf: missing include file",
     "{access}:1: %include: {tmp}/no-such-include.conf: cannot read: No such file or directory",
     access=f"%include {tmp}/no-such-include.conf\n" + GOOD_STANZA)

# ---- access.conf: values (bound at start-up and by -D) -----------------------------------------
case("access.conf: bad port list", "{access}:4: OPEN_PORTS: 'icmp/0' is not tcp/PORT or udp/PORT",
     access=GOOD_STANZA.replace("tcp/22", "tcp/22,icmp/0"))
case("access.conf: port out of range", "{access}:4: OPEN_PORTS: 'tcp/70000' is not tcp/PORT or udp/PORT",
     access=GOOD_STANZA.replace("tcp/22", "tcp/70000"))
case("access.conf: bad CIDR", "{access}:1: SOURCE: '10.0.0.0/33' is not ANY, an IP address or a CIDR block",
     access=GOOD_STANZA.replace("SOURCE ANY", "SOURCE 10.0.0.0/33"))
case("access.conf: bad DESTINATION", "{access}:5: DESTINATION: '300.1.1.1' is not ANY, an IP address or a CIDR block",
     access=GOOD_STANZA + "DESTINATION 300.1.1.1\n")
case("access.conf: missing key", "{access}:1: SOURCE: stanza has no KEY or KEY_BASE64",
     access=f"SOURCE ANY\nHMAC_KEY_BASE64 {HMAC}\n")
case("access.conf: missing HMAC key", "{access}:1: SOURCE: stanza has no HMAC_KEY or HMAC_KEY_BASE64",
     access=f"SOURCE ANY\nKEY_BASE64 {KEY}\n")
case("access.conf: bad base64 key", "{access}:2: KEY_BASE64: is not valid base64",
     access=GOOD_STANZA.replace(KEY, KEY[:12] + "%%%%"))
case("access.conf: bad base64 HMAC key", "{access}:3: HMAC_KEY_BASE64: is not valid base64",
     access=GOOD_STANZA.replace(HMAC, HMAC[:21]))
case("access.conf: key too long", "{access}:2: KEY: is longer than 32 bytes",
     access=f"SOURCE ANY\nKEY {PASS * 2}\nHMAC_KEY_BASE64 {HMAC}\n")
case("access.conf: HMAC key equal to the key", "{access}:3: HMAC_KEY_BASE64: must differ from the encryption key",
     access=f"SOURCE ANY\nKEY_BASE64 {KEY}\nHMAC_KEY_BASE64 {KEY}\n")
case("access.conf: placeholder key", "{access}:2: KEY_BASE64: is still __CHANGEME__",
     access=f"SOURCE ANY\nKEY_BASE64 __CHANGEME__\nHMAC_KEY_BASE64 {HMAC}\n")
case("access.conf: unknown mode", "{access}:5: ENCRYPTION_MODE: unknown value 'xts'",
     access=GOOD_STANZA + "ENCRYPTION_MODE xts\n")
case("access.conf: unknown digest", "{access}:5: HMAC_DIGEST_TYPE: unknown value 'sha42'",
     access=GOOD_STANZA + "HMAC_DIGEST_TYPE sha42\n")
case("access.conf: bad timeout", "{access}:5: FW_ACCESS_TIMEOUT: '-5' is not a positive integer",
     access=GOOD_STANZA + "FW_ACCESS_TIMEOUT -5\n")
case("access.conf: second stanza", "{access}:6: SOURCE: '192.0.2.1/99' is not ANY",
     access=GOOD_STANZA + "\n" + f"SOURCE 192.0.2.1/99\nKEY {PASS}\nHMAC_KEY_BASE64 {HMAC}\n")

# ---- a good configuration: -D masks the keys ----------------------------------------------------
conf_path = write("fwknopd.conf", GOOD_CONF)
access_path = write("access.conf", GOOD_STANZA + "\n" + f"SOURCE 192.0.2.0/24\nKEY {PASS}\nHMAC_KEY {PASS}x\n", 0o640)
rc, out, err = run(["-D", "-c", conf_path, "-a", access_path])
ok(rc == 0 and out.count("(set, not shown)") == 4, f"-D on a good config exits 0 and masks all 4 keys (exit {rc})", out + err)
no_secrets("-D on a good config", out, err)

for n in notes:
    print(n)
shutil.rmtree(tmp, ignore_errors=True)
print(f"config_errors_test: {passed} passed, {failed} failed")
sys.exit(1 if failed or not passed else 0)
PY
