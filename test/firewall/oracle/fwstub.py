#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A stateful stand-in for a BSD / firewalld firewall program, for the oracle tests.

Installed (copied) under the name of the tool it plays: `pfctl` (OpenBSD pfctl(8)), `ipfw`
(FreeBSD ipfw(8)) or `firewall-cmd` (firewalld). It keeps the firewall's state in `state.json` next
to itself, answers list/show calls from that state as the real tool prints it, refuses what the
real tool's grammar refuses (exit 1, a message on stderr), and appends every call (argv, stdin,
exit status) to `calls.log` as a JSON line. Two copies in two directories are two firewalls: one
for fwknopd, one for knock-server, compared with `fwstub.py state DIR`.

Test hooks in state.json: "broken": "fail" (every call exits 1) or "hang" (every call sleeps 60 s).
Commands: `fwstub.py init DIR TOOL [JSON]` (copies itself, writes the initial state),
`fwstub.py state DIR` (prints the comparable state: rules without their _exp_ times, and the times),
`fwstub.py compare DIR1 DIR2` (exit 0 when the two agree, the times within 2 s),
`fwstub.py set DIR KEY JSON` (changes one key of the state: a test hook).
"""
import fcntl
import ipaddress
import json
import os
import re
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(sys.argv[0]))
STATE = os.path.join(HERE, "state.json")
LOG = os.path.join(HERE, "calls.log")


class Refused(Exception):
    """The real tool would refuse this: message to stderr, exit status."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


# ---------------------------------------------------------------------------------------- pfctl
PF_SHOW = ["queue", "rules", "Anchors", "Sources", "states", "info", "Interfaces", "labels",
           "timeouts", "memory", "Tables", "osfp", "all"]
PF_FLUSH = ["rules", "Sources", "states", "info", "Tables", "osfp", "all"]
PROTOS = {"6": "tcp", "17": "udp", "1": "icmp", "tcp": "tcp", "udp": "udp", "icmp": "icmp"}


def pf_lookup(word, options, what):
    # pfctl takes any prefix of a modifier (-s r, -s Anchor)
    found = [o for o in options if o.startswith(word)] if word else []
    if not found:
        raise Refused(f"pfctl: Unknown {what} '{word}'")
    return found[0]


def pf_address(tok):
    if tok == "any":
        return "any", None
    try:
        net = ipaddress.ip_network(tok, strict=False)
    except ValueError:
        raise Refused(f"no IP address found for {tok}") from None
    text = str(net.network_address) if "/" not in tok else str(net)
    return text, ("inet" if net.version == 4 else "inet6")


def pf_tokens(line):
    return re.findall(r'"[^"]*"|!=|<=|>=|[=<>!]|[^\s"=<>!]+', line)


def pf_port(toks, i):
    """`port [op] N` at toks[i] == 'port': (text, next index)."""
    op = "="
    i += 1
    if i < len(toks) and toks[i] in ("=", "!=", "<", ">", "<=", ">="):
        op = toks[i]
        i += 1
    if i >= len(toks) or not toks[i].isdigit() or not 0 <= int(toks[i]) <= 65535:
        raise Refused("syntax error")
    return f"port {op} {int(toks[i])}", i + 1


def pf_rule(line):
    """One pf.conf filter rule (the subset fwknopd and knock write, and what pfctl lists),
    as `pfctl -s rules` prints it; Refused('syntax error') otherwise."""
    toks = pf_tokens(line)
    if not toks or toks[0] not in ("pass", "block"):
        raise Refused("syntax error")
    out, i, af, proto, state, label = [toks[0]], 1, None, None, None, None
    if i < len(toks) and toks[i] in ("in", "out"):
        out.append(toks[i]); i += 1
    if i < len(toks) and toks[i] == "log":
        out.append("log"); i += 1
    if i < len(toks) and toks[i] == "quick":
        out.append("quick"); i += 1
    if i + 1 < len(toks) and toks[i] == "on":
        out += ["on", toks[i + 1]]; i += 2
    if i < len(toks) and toks[i] in ("inet", "inet6"):
        af = toks[i]; i += 1
    if i + 1 < len(toks) and toks[i] == "proto":
        if toks[i + 1] not in PROTOS:
            raise Refused("syntax error")
        proto = PROTOS[toks[i + 1]]; i += 2
    parts = []
    for side in ("from", "to"):
        if i + 1 >= len(toks) or toks[i] != side:
            raise Refused("syntax error")
        addr, fam = pf_address(toks[i + 1]); i += 2
        if fam and af and fam != af:
            raise Refused("address family mismatch")
        af = af or fam
        parts += [side, addr]
        if i < len(toks) and toks[i] == "port":
            if proto not in ("tcp", "udp"):
                raise Refused("port only applies to tcp/udp")
            text, i = pf_port(toks, i)
            parts.append(text)
    flags = "flags S/SA" if proto == "tcp" else None
    while i < len(toks):
        if toks[i] == "flags" and i + 1 < len(toks):
            flags = None if toks[i + 1] == "any" else f"flags {toks[i + 1]}"; i += 2
        elif toks[i] in ("keep", "modulate", "synproxy", "no") and i + 1 < len(toks) \
                and toks[i + 1] == "state":
            state = None if toks[i] == "keep" else f"{toks[i]} state"; i += 2
        elif toks[i] == "label" and i + 1 < len(toks):
            label = toks[i + 1].strip('"')
            if len(label) >= 64:
                raise Refused("label too long")
            i += 2
        else:
            raise Refused("syntax error")
    printed = out + ([af] if af else []) + (["proto", proto] if proto else []) + parts
    printed += [x for x in (flags, state) if x]  # keep state is the default: not printed
    if label is not None:
        printed.append(f'label "{label}"')
    return " ".join(printed)


def pfctl(argv, stdin, st):
    anchors = st.setdefault("anchors", {})
    opts, i = {}, 0
    while i < len(argv):
        a = argv[i]
        if not a.startswith("-") or len(a) < 2:
            raise Refused(f"pfctl: unexpected argument '{a}'\nusage: pfctl [-deghNnPqrvz] ...")
        flag = a[1]
        if flag in "aDFfiKkLopRsStTx":
            val = a[2:] or (argv[i + 1] if i + 1 < len(argv) else None)
            if val is None:
                raise Refused(f"pfctl: option requires an argument -- {flag}")
            i += 1 if a[2:] else 2
            opts[flag] = val
        elif flag in "deghNnPqrvz":
            opts[flag] = True
            i += 1
        else:
            raise Refused(f"pfctl: unknown option -- {flag}\nusage: pfctl [-deghNnPqrvz] ...")
    anchor = opts.get("a", "")
    if anchor.startswith("_"):
        raise Refused(f"pfctl: anchor names beginning with '_' are reserved for internal use")
    out, err = "", ""
    if "F" in opts:
        what = pf_lookup(opts["F"], PF_FLUSH, "flush modifier")
        if what in ("rules", "all"):
            anchors[anchor] = []
            err += "rules cleared\n"
        if what in ("states", "all"):
            st["states_flushed"] = st.get("states_flushed", 0) + 1
            err += "0 states cleared\n"
    if "f" in opts:
        if opts["f"] != "-":
            raise Refused(f"pfctl: cannot open the main config file!: No such file or directory")
        rules = []
        for n, line in enumerate(stdin.split("\n"), 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            try:
                rules.append(pf_rule(line))
            except Refused as e:
                raise Refused(f"stdin:{n}: {e}\npfctl: Syntax error in config file: "
                              "pf rules not loaded") from None
        anchors[anchor] = rules
    if "s" in opts:
        what = pf_lookup(opts["s"], PF_SHOW, "show modifier")
        if what == "rules":
            out += "".join(r + "\n" for r in anchors.get(anchor, []))
        elif what == "Anchors":
            if not anchor:
                out += "".join(f"  {a}\n" for a in st.get("referenced", []))
        else:
            raise Refused(f"stub: -s {what} is not modelled")
    if not set(opts) & set("Ffs"):
        raise Refused("stub: nothing modelled to do")
    return out, err


# ----------------------------------------------------------------------------------------- ipfw
IPFW_ACTIONS = {"allow": "allow", "accept": "allow", "pass": "allow", "permit": "allow",
                "deny": "deny", "drop": "deny"}
IPFW_PROTOS = {"6": "tcp", "17": "udp", "1": "icmp", "tcp": "tcp", "udp": "udp", "icmp": "icmp",
               "ip": "ip", "all": "ip", "ip6": "ip6", "ipv6": "ip6"}


def ipfw_number(tok, what, low, high):
    if not tok.isdigit() or not low <= int(tok) <= high:
        raise Refused(f"ipfw: illegal {what} {tok}", 65)  # EX_DATAERR
    return int(tok)


def ipfw_address(tok):
    if tok in ("any", "me", "me6"):
        return tok
    try:
        net = ipaddress.ip_network(tok, strict=False)
    except ValueError:
        raise Refused(f"ipfw: bad address {tok}", 64) from None
    return str(net) if "/" in tok else str(net.network_address)


def ipfw_body(toks):
    """ACTION [log] PROTO from A to B [dst-port N] [setup] [keep-state] [// comment], as
    `ipfw list` prints it (without number and set)."""
    if toks == ["check-state"]:
        return "check-state"
    comment = None
    if "//" in toks:
        at = toks.index("//")
        comment = " ".join(toks[at + 1:])
        toks = toks[:at]
    if len(toks) < 6 or toks[0] not in IPFW_ACTIONS:
        raise Refused(f"ipfw: invalid action {toks[0] if toks else ''}", 64)
    out, i = [IPFW_ACTIONS[toks[0]]], 1
    if toks[i] == "log":
        out.append("log"); i += 1
    if toks[i] not in IPFW_PROTOS:
        raise Refused(f"ipfw: invalid protocol ``{toks[i]}''", 64)
    proto = IPFW_PROTOS[toks[i]]; i += 1
    out.append(proto)
    if i + 3 >= len(toks) + 0 or toks[i] != "from" or toks[i + 2] != "to":
        raise Refused("ipfw: missing ``from''" if toks[i] != "from" else "ipfw: missing ``to''", 64)
    out += ["from", ipfw_address(toks[i + 1]), "to", ipfw_address(toks[i + 3])]
    i += 4
    while i < len(toks):
        t = toks[i]
        if t in ("dst-port", "src-port") and i + 1 < len(toks):
            if proto not in ("tcp", "udp"):
                raise Refused(f"ipfw: {t} only for tcp/udp", 64)
            ipfw_number(toks[i + 1], "port", 0, 65535)
            out += [t, toks[i + 1]]; i += 2
        elif t == "setup":  # accepted on any protocol; it matches tcp SYNs only
            out.append(t); i += 1
        elif t in ("keep-state", "established"):
            out.append(t); i += 1
        else:
            raise Refused(f"ipfw: unrecognised option [{i}] {t}", 64)
    if comment is not None:
        out += ["//", comment]
    return " ".join(out)


def ipfw(argv, stdin, st):
    rules = st.setdefault("rules", [])  # {"num", "set", "body"}, in rule-number order
    disabled = st.setdefault("disabled", [])
    flags = set()
    while argv and argv[0].startswith("-") and len(argv[0]) > 1:
        for c in argv[0][1:]:
            if c not in "cdefnNqStT":
                raise Refused(f"ipfw: illegal option -- {c}", 64)
            flags.add(c)
        argv = argv[1:]
    only_set = None
    if len(argv) >= 3 and argv[0] == "set" and argv[1].isdigit():
        only_set = ipfw_number(argv[1], "set number", 0, 31)
        argv = argv[2:]
    if not argv:
        raise Refused("ipfw: bad arguments", 64)
    cmd, args = argv[0], argv[1:]

    def listing():
        shown = [r for r in rules if only_set is None or r["set"] == only_set]
        out = ""
        for r in shown:
            off = r["set"] in disabled
            if off and "S" not in flags:
                continue  # disabled rules are listed with -S only
            line = "%05d " % r["num"]
            if "T" in flags:
                line += "%d " % r.get("last", 0)
            if "S" in flags:
                line += "set %d " % r["set"]
            line += r["body"]
            out += ("# DISABLED " if off else "") + line + "\n"
        if "d" in flags:
            dyn = [(int(n), c) for n, c in st.get("dynamic", {}).items()
                   if any(r["num"] == int(n) for r in shown)]
            if dyn:
                out += "## Dynamic rules (%d):\n" % sum(c for _, c in dyn)
                for n, c in sorted(dyn):
                    for k in range(c):
                        out += "%05d 0 0 (%ds) STATE tcp 192.0.2.%d 5%04d <-> 192.0.2.1 22\n" % (
                            n, 300, 2 + k, k)
        return out

    if cmd in ("list", "show"):
        if args:
            raise Refused("stub: ipfw list with rule numbers is not modelled")
        return listing(), ""
    if cmd == "add":
        num = None
        if args and args[0].isdigit():
            num = ipfw_number(args[0], "rule number", 1, 65534)
            args = args[1:]
        rset = only_set if only_set is not None else 0
        if len(args) >= 2 and args[0] == "set":
            rset = ipfw_number(args[1], "set number", 0, 31)
            args = args[2:]
        body = ipfw_body(args)
        if num is None:
            num = min(65534, max([r["num"] for r in rules] + [0]) + 100)
        rules.append({"num": num, "set": rset, "body": body})
        rules.sort(key=lambda r: r["num"])  # stable: same numbers keep their order
        line = "%05d %s" % (num, body)
        return line + "\n", ""
    if cmd == "delete":
        if args[:1] == ["set"]:
            if only_set is not None or len(args) != 2:
                raise Refused("ipfw: bad arguments", 64)
            s = ipfw_number(args[1], "set number", 0, 31)
            rules[:] = [r for r in rules if r["set"] != s]
            return "", ""
        if not args:
            raise Refused("ipfw: rule number required", 64)
        for a in args:
            n = ipfw_number(a, "rule number", 1, 65534)
            gone = [r for r in rules if r["num"] == n and (only_set is None or r["set"] == only_set)]
            if not gone:
                raise Refused(f"ipfw: rule {n}: setsockopt(IP_FW_XDEL): No such process", 71)
            rules[:] = [r for r in rules if r not in gone]
        return "", ""
    if cmd == "set" and only_set is None:
        if args[:1] in (["disable"], ["enable"]) and len(args) == 2:
            s = ipfw_number(args[1], "set number", 0, 30)  # set 31 cannot be disabled
            if args[0] == "disable" and s not in disabled:
                disabled.append(s)
            if args[0] == "enable" and s in disabled:
                disabled.remove(s)
            return "", ""
        if len(args) == 5 and args[:2] == ["move", "rule"] and args[3] == "to":
            n = ipfw_number(args[2], "rule number", 1, 65534)
            s = ipfw_number(args[4], "set number", 0, 31)
            for r in rules:
                if r["num"] == n:
                    r["set"] = s
            return "", ""
        if len(args) == 4 and args[0] == "move" and args[2] == "to":
            a, b = (ipfw_number(x, "set number", 0, 31) for x in (args[1], args[3]))
            for r in rules:
                if r["set"] == a:
                    r["set"] = b
            return "", ""
    raise Refused(f"ipfw: bad command `{cmd}'", 64)


# ------------------------------------------------------------------------------------ framework
TOOLS = {"pfctl": pfctl, "ipfw": ipfw}


def comparable(st, tool):
    """The state two firewalls must agree on: rules with their _exp_ times taken out, and the
    times (compared with a tolerance: the two daemons see a packet a moment apart)."""
    tool = tool or st.get("tool")
    if tool == "pfctl":
        rules = {a: r for a, r in st.get("anchors", {}).items() if r}
        shapes = {a: [re.sub(r"_exp_\d+", "_exp_T", x) for x in r] for a, r in rules.items()}
        times = sorted(int(t) for r in rules.values() for x in r for t in re.findall(r"_exp_(\d+)", x))
        return {"rules": shapes, "expiries": times, "states_flushed": st.get("states_flushed", 0)}
    if tool == "ipfw":
        rules = ["%05d set %d %s" % (r["num"], r["set"], r["body"]) for r in st.get("rules", [])]
        shapes = {"rules": [re.sub(r"_exp_\d+", "_exp_T", x) for x in rules],
                  "disabled": sorted(st.get("disabled", []))}
        times = sorted(int(t) for x in rules for t in re.findall(r"_exp_(\d+)", x))
        return {"rules": shapes, "expiries": times}
    return st


def main():
    admin = os.path.basename(sys.argv[0]) == "fwstub.py"  # else: playing the tool
    if admin and len(sys.argv) >= 3 and sys.argv[1] == "init":
        d, tool = sys.argv[2], sys.argv[3]
        os.makedirs(d, exist_ok=True)
        shutil.copy(os.path.abspath(__file__), os.path.join(d, tool))
        os.chmod(os.path.join(d, tool), 0o755)
        init = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
        init["tool"] = tool
        with open(os.path.join(d, "state.json"), "w") as f:
            json.dump(init, f)
        files = [os.path.join(d, n) for n in ("state.json", "calls.log", "state.json.lock")]
        for p in files[1:]:
            open(p, "w").close()
        for p in [d] + files:
            os.chmod(p, 0o777 if p == d else 0o666)  # knock-server runs it as nobody
        return 0
    if admin and len(sys.argv) >= 4 and sys.argv[1] == "compare":
        a, b = (comparable(json.load(open(os.path.join(d, "state.json"))), None)
                for d in sys.argv[2:4])
        same = a.get("rules") == b.get("rules") and len(a.get("expiries", [])) == len(
            b.get("expiries", [])) and all(abs(x - y) <= 2 for x, y in
                                           zip(a.get("expiries", []), b.get("expiries", [])))
        print("same: " + json.dumps(b.get("rules")) if same else
              "DIFFERENT:\n first:  %s\n second: %s" % (json.dumps(a), json.dumps(b)))
        return 0 if same else 1
    if admin and len(sys.argv) >= 3 and sys.argv[1] in ("state", "set"):
        path = os.path.join(sys.argv[2], "state.json")
        with open(path) as f:
            st = json.load(f)
        if sys.argv[1] == "set":  # fwstub.py set DIR KEY JSON
            st[sys.argv[3]] = json.loads(sys.argv[4])
            with open(path, "w") as f:
                json.dump(st, f)
            return 0
        print(json.dumps(comparable(st, st.get("tool")), sort_keys=True))
        return 0
    tool = os.path.basename(sys.argv[0])
    argv = sys.argv[1:]
    stdin = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    with open(STATE + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with open(STATE) as f:
            st = json.load(f)
        broken = st.get("broken")
        rc, out, err = 0, "", ""
        if broken == "hang":
            time.sleep(60)
        if broken == "fail":
            rc, err = 1, f"{tool}: broken (test hook)\n"
        else:
            try:
                out, err = TOOLS[tool](argv, stdin, st)
                with open(STATE + ".tmp", "w") as f:
                    json.dump(st, f)
                os.replace(STATE + ".tmp", STATE)
            except Refused as e:
                rc, err = e.status, str(e) + "\n"
        with open(LOG, "a") as f:
            f.write(json.dumps({"t": int(time.time()), "uid": os.getuid(), "argv": argv,
                                "stdin": stdin, "rc": rc}) + "\n")
    sys.stdout.write(out)
    sys.stderr.write(err)
    return rc


if __name__ == "__main__":
    sys.exit(main())
