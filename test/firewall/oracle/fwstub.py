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
`fwstub.py state DIR` (prints the comparable state: rules without their _exp_ times, and the times).
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


# ------------------------------------------------------------------------------------ framework
TOOLS = {"pfctl": pfctl}


def comparable(st, tool):
    """The state two firewalls must agree on: rules with their _exp_ times taken out, and the
    times (compared with a tolerance: the two daemons see a packet a moment apart)."""
    if tool == "pfctl":
        rules = {a: r for a, r in st.get("anchors", {}).items() if r}
        shapes = {a: [re.sub(r"_exp_\d+", "_exp_T", x) for x in r] for a, r in rules.items()}
        times = sorted(int(t) for r in rules.values() for x in r for t in re.findall(r"_exp_(\d+)", x))
        return {"rules": shapes, "expiries": times, "states_flushed": st.get("states_flushed", 0)}
    return st


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "init":
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
    if len(sys.argv) >= 3 and sys.argv[1] in ("state", "set"):
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
