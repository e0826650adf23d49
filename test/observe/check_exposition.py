#!/usr/bin/python3
"""check_exposition.py FILE [SAMPLE=VALUE ...]

Reads FILE (a Prometheus text exposition; '-' for stdin) with Debian's python3-prometheus-client
parser (text_string_to_metric_families, the parser its own tests and exporters use) and checks
each SAMPLE=VALUE: SAMPLE is a sample name with its labels in any order, e.g.
'knock_packets_total{verdict="refused",reason="bad_mac"}=3'; VALUE '>0' or a number. A
'sum:NAME{label="v"}=N' sums every sample of NAME whose labels include those given. Exit 0 when
the text parses and every check holds, 1 otherwise, 77 when the parser is not installed.
"""
import re
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    print("SKIP: python3-prometheus-client is not installed")
    sys.exit(77)


def labels_of(text):
    return dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', text or ""))


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    text = sys.stdin.read() if argv[1] == "-" else open(argv[1]).read()
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser's ValueError, or worse
        print(f"FAIL: the text does not parse: {e}")
        return 1
    samples = [(s.name, s.labels, s.value) for f in families for s in f.samples]
    print(f"parsed {len(families)} families, {len(samples)} samples")
    failed = 0
    for check in argv[2:]:
        key, want = check.rsplit("=", 1)
        total = key.startswith("sum:")
        m = re.fullmatch(r"(?:sum:)?([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?", key)
        if not m:
            print(f"FAIL: cannot read the check {check!r}")
            failed += 1
            continue
        name, labels = m.group(1), labels_of(m.group(2))
        found = [v for n, lab, v in samples
                 if n == name and (all(lab.get(k) == v for k, v in labels.items()) if total
                                   else lab == labels)]
        got = sum(found) if total else (found[0] if len(found) == 1 else None)
        ok = got is not None and (got > 0 if want == ">0" else got == float(want))
        print(f"{'ok' if ok else 'FAIL'}: {key} = {got} (want {want})")
        failed += not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
