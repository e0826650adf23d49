#!/bin/sh
# SPDX-License-Identifier: MIT
# knock-server takes fwknopd's command line (issue #13): each flag below does what fwknopd's does,
# checked through --exit-parse-config / -D (no capture, no firewall, no privileges):
#   -O/--override-config F[,F]  later files' variables override fwknopd.conf's
#   --access-folder DIR         every DIR/*.conf, in name order, instead of -a
#   lenient access loading      a stanza whose %include_keys file is missing is left out with a
#                               file:line warning; the others load (fwknopd); --strict-config refuses
#   -V, --dump-serv-err-codes, -C N (packet count range), -vvv (grouped switches), -P / -r
#
# usage: fwknopd_flags_test.sh KNOCK_SERVER
set -eu
[ $# -eq 1 ] || { echo "usage: $0 KNOCK_SERVER" >&2; exit 2; }
exec python3 - "$1" <<'PY'
import base64, os, shutil, subprocess, sys, tempfile

server = os.path.abspath(sys.argv[1])
tmp = tempfile.mkdtemp(prefix="knock-fwknopd-flags-")
passed, failed = 0, 0

def ok(cond, what, detail=""):
    global passed, failed
    passed, failed = passed + bool(cond), failed + (not cond)
    print(("ok: " if cond else "FAILED: ") + what)
    if not cond and detail:
        print("  | " + detail.replace("\n", "\n  | "))

def write(name, text):
    path = os.path.join(tmp, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path

def run(*args):
    p = subprocess.run([server, *args], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       errors="replace", timeout=30, cwd=tmp)
    return p.returncode, p.stdout, p.stderr

KEY = base64.b64encode(os.urandom(32)).decode()
HMAC = base64.b64encode(os.urandom(64)).decode()
RUN = os.path.join(tmp, "run")
os.makedirs(RUN)
conf = write("fwknopd.conf", f"FWKNOP_RUN_DIR {RUN}\nPCAP_FILTER udp port 62201\n")
stanza = lambda src: f"SOURCE {src}\nKEY_BASE64 {KEY}\nHMAC_KEY_BASE64 {HMAC}\nOPEN_PORTS tcp/22\n"
access = write("access.conf", stanza("ANY"))

# -O: a later file's variable wins, the dump shows it.
over = write("override.conf", "PCAP_FILTER udp port 40001\n")
over2 = write("override2.conf", "MAX_SPA_PACKET_AGE 99\n")
rc, out, err = run("-D", "-c", conf, "-a", access, "-O", f"{over},{over2}")
ok(rc == 0 and "udp port 40001" in out and "udp port 62201" not in out,
   "-O F1,F2: PCAP_FILTER from the override file", out + err)
ok("99" in out, "-O F1,F2: the second file's MAX_SPA_PACKET_AGE too", out)
rc, out, err = run("-D", "-c", conf, "-a", access, "-O", os.path.join(tmp, "none.conf"))
ok(rc != 0 and "none.conf" in err, "-O with a missing file refuses, naming it", err)
# -P on the command line beats fwknopd.conf (and -O)
rc, out, err = run("-D", "-c", conf, "-a", access, "-P", "udp port 40002")
ok(rc == 0 and "udp port 40002" in out, "-P: PCAP_FILTER from the command line", out + err)

# --access-folder
write("conf.d/20-b.conf", stanza("192.0.2.0/24"))
write("conf.d/10-a.conf", stanza("198.51.100.0/24"))
rc, out, err = run("--exit-parse-config", "-c", conf, "--access-folder", os.path.join(tmp, "conf.d"))
ok(rc == 0 and "2 stanza(s)" in out, "--access-folder: both *.conf files load", out + err)
rc, out, err = run("-D", "-c", conf, "--access-folder", os.path.join(tmp, "conf.d"))
ok(rc == 0 and 0 <= out.find("stanza 1: ") < out.find("10-a.conf:1") < out.find("stanza 2: ")
   < out.find("20-b.conf:1"),
   "--access-folder: in file-name order (10-a before 20-b)", out + err)

# fwknopd's lenient loading: the broken stanza is left out, with file:line and why
lenient = write("lenient.conf", "SOURCE 203.0.113.0/24\n%include_keys missing-keys.txt\n\n" + stanza("ANY"))
rc, out, err = run("--exit-parse-config", "-c", conf, "-a", lenient)
ok(rc == 0 and "1 stanza(s)" in out, "broken %include_keys: the file loads with the whole stanza", out + err)
ok(f"{lenient}:2: %include_keys" in err and "missing-keys.txt" in err,
   "broken %include_keys: the warning names file:line and the missing file", err)
rc, out, err = run("--exit-parse-config", "--strict-config", "-c", conf, "-a", lenient)
ok(rc != 0 and f"{lenient}:2: %include_keys" in err, "--strict-config refuses the same file", err)
for name, text in (("out", out), ("err", err)):
    ok(KEY not in text and HMAC not in text, f"no key in std{name}")

# -V, --dump-serv-err-codes, -C, grouped switches
rc, out, err = run("-V")
ok(rc == 0 and out.startswith("knock-server "), "-V prints the version", out + err)
rc, out, err = run("--dump-serv-err-codes")
ok(rc == 0 and "bad_mac" in out and "replayed" in out, "--dump-serv-err-codes lists the reasons", out)
rc, out, err = run("-D", "-c", conf, "-a", access, "-C", "lots")
ok(rc != 0 and "-C: 'lots' is not a packet count" in err, "-C refuses a non-number", err)
rc, out, err = run("-D", "-c", conf, "-a", access, "-C", "2147483649")
ok(rc != 0, "-C refuses more than 2^31 (fwknopd's range)", err)
rc, out, err = run("-D", "-vvv", "-c", conf, "-a", access, "-C", "5")
ok(rc == 0, "-vvv and -C 5 are taken", err)
rc, out, err = run("-D", "-c", conf, "-a", access, "-r", "relative/dir")
ok(rc != 0 and "FWKNOP_RUN_DIR" in err, "-r: a relative run directory is refused (fwknopd)", err)

shutil.rmtree(tmp)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
