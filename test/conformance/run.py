#!/usr/bin/env python3
"""fwknop's own test suite as knock's conformance gate.

Reads the suite of fwknop's source tree (../shared/reference/fwknop-*.tar.xz) as data
(suite_to_json.pl), then runs the real programs (Debian's fwknopd and fwknop) and knock's
(knock-server, knock-client) on the same files and the same command line, and compares whether
each accepts or refuses:

  server  every fwknopd command line a test starts (its -c/-a files, the inline files a test
          writes first, its flags), with -D (dump the configuration and exit) added unless the
          command line already asks for an action (--exit-parse-config, --fw-list, -K, ...);
  client  every fwknop command line (with the fwknoprc a test writes first), with --test added:
          build the packet, send nothing;
  unused  every file in test/conf/ that no test names: an access.conf or fwknopd.conf loaded with
          the default other file, a fwknoprc used by a default client command line.

The run has its own network and mount namespaces (a fresh tmpfs on /run), so no program sees
the host's network or firewall or leaves anything behind. knock-server is given --allow-no-hmac: refusing a
stanza without an HMAC key is knock's one deliberate difference (docs/COMPATIBILITY.md); the table
counts what it refuses without the flag separately.

A disagreement fails the run unless docs/COMPATIBILITY.md lists its case id (`file.pl:N` in a
table row) with a reason. Cases of a group that has its own open work (GnuPG, NAT) are reported
and counted but do not fail the run while that group is listed as pending in the same document.

usage: run.py --knock-server BIN --knock-client BIN [--reference TARBALL] [--compat FILE]
              [--table FILE] [--json FILE] [-j N]
exit: 0 agree (or only listed differences), 1 unlisted disagreement, 77 skipped (no reference,
      not root, or no fwknop programs).
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SKIP = 77

# Flags after which fwknopd does something other than run: the command line is kept as it is.
SERVER_ACTIONS = {'-D', '--dump-config', '--exit-parse-config', '--exit-parse-digest-cache',
                  '--fw-list', '--fw-list-all', '--fw-flush', '-K', '--kill', '-R', '--restart',
                  '-S', '--status', '-V', '--version', '-h', '--help'}
CLIENT_ACTIONS = {'--test', '-T', '-k', '--key-gen', '-V', '--version', '-h', '--help',
                  '--show-last', '--stanza-list', '-l', '--last-cmd'}

# Categories that need what this comparison cannot give: a libfiu/AFL/valgrind build of fwknop,
# its Perl or Python bindings, its build system.
OUT_OF_SCOPE = re.compile(r'fault injection|AFL|perl FKO|python fko|configure args|'
                          r'preliminaries|code structure|build security|address sanitizer|'
                          r'valgrind|profile coverage|cunit', re.I)

ERROR_WORDS = re.compile(r'error|invalid|fatal|could not|cannot|can\'t|refus|unable|must|'
                         r'not a |no such|unknown|unrecognized|missing|too long|exceed', re.I)


def first_error_line(text):
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    for line in lines:
        if ERROR_WORDS.search(line):
            return line[:160]
    return lines[0][:160] if lines else ''


def group_of(test, text):
    """The open work a case belongs to, if any: 'gpg' (GnuPG) or 'nat' (gateway mode)."""
    blob = ' '.join((test['file'], test.get('category', ''), test.get('subcategory', ''),
                     test.get('detail', ''), text))
    if re.search(r'gpg', blob, re.I):
        return 'gpg'
    if re.search(r'(?:^|\s)-N\s|--nat-|\bNAT\b|_nat|nat_|SNAT|MASQUERADE|FORWARD', blob, re.I):
        return 'nat'
    return ''


class Sandbox:
    """One extracted copy of the reference's test/ folder, the suite as data, and the programs."""

    def __init__(self, args, work):
        self.args = args
        self.work = work
        with tarfile.open(args.reference) as tar:
            members = [m for m in tar.getmembers() if '/test/' in m.name or m.name.endswith('/test')]
            tar.extractall(work, members=members)
        tops = [p for p in work.iterdir() if p.is_dir()]
        self.test_dir = tops[0] / 'test'
        (self.test_dir / 'run').mkdir(exist_ok=True)
        # As the suite prepares itself: its configuration files 0600, its GnuPG homes and
        # %include folders unpacked from their tarballs.
        conf = self.test_dir / 'conf'
        for f in conf.iterdir():
            if f.is_file():
                f.chmod(0o600)
        for name in ('gpg_dirs.tar.gz', 'access-include.tar.gz'):
            if (conf / name).exists():
                with tarfile.open(conf / name) as tar:
                    tar.extractall(conf)
        dump = subprocess.run(['perl', str(HERE / 'suite_to_json.pl'), str(self.test_dir)],
                              capture_output=True, text=True, check=True)
        self.suite = json.loads(dump.stdout)
        self.fwknopd = shutil.which('fwknopd') or '/usr/sbin/fwknopd'
        self.fwknop = shutil.which('fwknop') or '/usr/bin/fwknop'

    def path(self, name):
        return self.test_dir / name


def run_line(command, cwd, timeout=20):
    """Runs one command line of the suite in a process group of its own; when it times out (or
    leaves something running) the whole group is killed, not only the shell: a fwknop the shell
    started (--save-rc-stanza with stdin closed spins on it) outlived its case and took a core
    for the rest of the run."""
    with subprocess.Popen(['sh', '-c', command], cwd=cwd, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          errors='replace', start_new_session=True) as p:
        try:
            out, err = p.communicate(timeout=timeout)
            rc, tail = p.returncode, ''
        except subprocess.TimeoutExpired:
            kill_group(p.pid)
            out, err = p.communicate()
            rc, tail = 124, '\n(timed out)'
        kill_group(p.pid)
        return rc, (out or '') + (err or '') + tail


def kill_group(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def enter_namespaces():
    """Re-runs this script in its own network and mount namespaces (once: a namespace per command
    would cost 80 ms each), with a private tmpfs on /run, so no command sees the host's network
    or firewall and nothing a program writes under /run outlives the run."""
    if os.environ.get('KNOCK_CONFORMANCE_NS') == '1':
        subprocess.run(['mount', '-t', 'tmpfs', 'knock-conformance', '/run'], check=True)
        os.makedirs('/run/fwknop', exist_ok=True)
        subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)
        return
    env = dict(os.environ, KNOCK_CONFORMANCE_NS='1')
    argv = ['unshare', '--net', '--mount', '--propagation', 'private', sys.executable] + sys.argv
    sys.exit(subprocess.run(argv, env=env).returncode)


def with_action(command, actions, default):
    words = set(shlex.split(command.replace('|', ' ')))
    return command if words & actions else command + ' ' + default


class Case:
    def __init__(self, cid, kind, detail, command, files, expected_error, group):
        self.id = cid
        self.kind = kind
        self.detail = detail
        self.command = command          # with @FWKNOPD@ / @FWKNOP@ for the program
        self.files = files              # {path: text} written before the run
        self.expected_error = expected_error
        self.group = group
        self.results = {}

    def key(self):
        h = hashlib.sha256(self.command.encode())
        for p in sorted(self.files):
            h.update(p.encode() + b'\0' + self.files[p].encode())
        return h.hexdigest()


def collect_cases(box):
    cases, seen = [], {}
    rc_written = box.path('run/rewrite_fwknoprc')
    save_rc = box.path('run/save_fwknoprc')

    def add(case):
        k = case.key()
        if k in seen:
            seen[k].detail += ' | ' + case.detail
            return
        seen[k] = case
        cases.append(case)

    for t in box.suite:
        if OUT_OF_SCOPE.search(t.get('category', '') + ' ' + t.get('subcategory', '')):
            continue
        cid = f"{t['file']}:{t['index']}"
        detail = f"{t.get('category', '')} / {t.get('subcategory', '')}: {t.get('detail', '')}"
        server_line = t.get('fwknopd_cmdline', '')
        client_line = t.get('cmdline', '')
        if '@FWKNOPD@' in client_line and not server_line:
            server_line, client_line = client_line, ''
        expected = bool(t.get('exec_err')) or bool(t.get('server_exec_err'))
        if server_line and '@FWKNOPD@' in server_line:
            files = {}
            for key, name in (('server_access_file', 'run/rewrite_access.conf'),
                              ('server_conf_file', 'run/rewrite_fwknopd.conf'),
                              ('server_include_keys_access_file',
                               'run/rewrite_include_keys_access.conf'),
                              ('digest_cache_file', 'run/rewrite_digest.cache')):
                if t.get(key):
                    files[str(box.path(name))] = ''.join(l + '\n' for l in t[key])
            command = with_action(server_line.strip(), SERVER_ACTIONS, '-D')
            add(Case(cid, 'server', detail, command, files,
                     expected if t.get('function') == 'server_conf_files' else None,
                     group_of(t, server_line + ' '.join(files.values()))))
        if client_line and '@FWKNOP@' in client_line:
            files = {}
            rc = t.get('write_rc_file') or t.get('save_rc_stanza')
            if rc:
                text = ''
                for stanza in rc:
                    text += f"[{stanza['name']}]\n"
                    for var, value in stanza['vars'].items():
                        text += f'{var}      {value}\n'
                text += '#\n'
                files[str(rc_written if t.get('write_rc_file') else save_rc)] = text
            command = with_action(client_line.strip(), CLIENT_ACTIONS, '--test')
            add(Case(cid, 'client', detail, command, files,
                     expected if t.get('function') in ('client_rc_file', 'generic_exec') else None,
                     group_of(t, client_line + ' '.join(files.values()))))

    # Files in conf/ that no test names.
    named = ' '.join(json.dumps(t) for t in box.suite)
    conf = box.path('conf')
    default_conf, default_access = conf / 'default_fwknopd.conf', conf / 'default_access.conf'
    for f in sorted(conf.iterdir()):
        if not f.is_file() or str(f) in named or f.name in named:
            continue
        if f.suffix in ('.pcap', '.gz', '.key', '.cache') or 'gpg' in f.name and f.suffix != '.conf':
            continue
        t = {'file': 'conf', 'detail': f.name}
        if f.name.endswith('fwknopd.conf'):
            command = f'@FWKNOPD@ -c {f} -a {default_access} -d {box.path("run/digest.cache")} ' \
                      f'-p {box.path("run/fwknopd.pid")} -D'
            add(Case(f'conf/{f.name}', 'unused', f.name, command, {}, None, group_of(t, f.read_text(errors='replace'))))
        elif f.name.endswith('access.conf') or 'access' in f.name:
            command = f'@FWKNOPD@ -c {default_conf} -a {f} -d {box.path("run/digest.cache")} ' \
                      f'-p {box.path("run/fwknopd.pid")} -D'
            add(Case(f'conf/{f.name}', 'unused', f.name, command, {}, None, group_of(t, f.read_text(errors='replace'))))
        elif 'fwknoprc' in f.name:
            command = f'@FWKNOP@ -A tcp/22 -a 127.0.0.2 -D 127.0.0.1 --no-save-args --rc-file {f} --test'
            add(Case(f'conf/{f.name}', 'unused', f.name, command, {}, None, group_of(t, f.read_text(errors='replace'))))
    return cases


def run_case(box, case):
    """Both programs on the case; files are (re)written before each run (a run may change them)."""
    for prog, name in (('fwknop', None), ('knock', None), ('knock-strict', None)):
        if prog == 'knock-strict' and case.kind == 'client':
            continue
        if case.command.startswith('@FWKNOP@') or '@FWKNOP@' in case.command:
            binary = {'fwknop': box.fwknop, 'knock': box.args.knock_client,
                      'knock-strict': box.args.knock_client}[prog]
            command = case.command.replace('@FWKNOP@', shlex.quote(binary))
        else:
            binary = {'fwknop': box.fwknopd, 'knock': box.args.knock_server,
                      'knock-strict': box.args.knock_server}[prog]
            command = case.command.replace('@FWKNOPD@', shlex.quote(binary) +
                                           (' --allow-no-hmac' if prog == 'knock' else ''))
        yield prog, command


def execute(box, case):
    out = {}
    for prog, command in run_case(box, case):
        for path, text in case.files.items():
            Path(path).write_text(text)
            Path(path).chmod(0o600)
        rc, text = run_line(command, box.test_dir)
        out[prog] = (rc, first_error_line(text) if rc else '')
    return case, out


def listed_differences(compat):
    """Case ids that docs/COMPATIBILITY.md explains, and the groups it lists as pending."""
    ids, pending = set(), set()
    if not compat.exists():
        return ids, pending
    for line in compat.read_text().splitlines():
        if line.startswith('|'):  # a table row: every case id in its first cell
            first = line.split('|')[1]
            ids.update(re.findall(r'`([^`]+\.pl:\d+|conf/[^`]+)`', first))
        m = re.match(r'-\s*pending group:\s*`(\w+)`', line)
        if m:
            pending.add(m.group(1))
    return ids, pending


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--knock-server', required=True)
    ap.add_argument('--knock-client', required=True)
    ap.add_argument('--reference', default=str(ROOT.parent / 'shared' / 'reference' / 'fwknop-2.6.11.tar.xz'))
    ap.add_argument('--compat', default=str(ROOT / 'docs' / 'COMPATIBILITY.md'))
    ap.add_argument('--table', help='write the whole table here (markdown)')
    ap.add_argument('--json', help='write every result here')
    ap.add_argument('--only', help='run only case ids matching this regular expression')
    ap.add_argument('-j', type=int, default=2)
    args = ap.parse_args()
    # The programs run from the suite's own folder: relative paths are taken from here, now.
    args.knock_server = os.path.abspath(args.knock_server)
    args.knock_client = os.path.abspath(args.knock_client)

    if not Path(args.reference).exists():
        print(f'SKIP: no fwknop reference source at {args.reference} (see ../shared/reference/README.md)')
        return SKIP
    if os.geteuid() != 0:
        print('SKIP: needs root (each program runs in its own network and mount namespace)')
        return SKIP
    for tool in ('fwknopd', 'fwknop', 'unshare', 'perl'):
        if not shutil.which(tool) and not Path('/usr/sbin/' + tool).exists():
            print(f'SKIP: {tool} is not installed (cmake/install-deps.sh installs it)')
            return SKIP

    enter_namespaces()
    with tempfile.TemporaryDirectory(prefix='knock-conformance-') as tmp:
        box = Sandbox(args, Path(tmp))
        cases = collect_cases(box)
        if args.only:
            cases = [c for c in cases if re.search(args.only, c.id)]
        # Cases that write files share their paths: run those one at a time, the rest in parallel.
        with_files = [c for c in cases if c.files]
        plain = [c for c in cases if not c.files]
        results = []
        for c in with_files:
            results.append(execute(box, c))
        with concurrent.futures.ThreadPoolExecutor(args.j) as pool:
            results += list(pool.map(lambda c: execute(box, c), plain))

    ids, pending = listed_differences(Path(args.compat))
    rows, counts, unlisted = [], {}, []
    for case, out in sorted(results, key=lambda r: (r[0].kind, r[0].id)):
        f_ok = out['fwknop'][0] == 0
        k_ok = out['knock'][0] == 0
        agree = f_ok == k_ok
        strict_refuses = 'knock-strict' in out and out['knock-strict'][0] != 0 and k_ok
        bucket = counts.setdefault((case.kind, case.group or 'core'), [0, 0, 0])
        bucket[0 if agree else 1] += 1
        if strict_refuses:
            bucket[2] += 1
        status = 'agree' if agree else ('listed' if case.id in ids else
                                        ('pending ' + case.group if case.group in pending else 'DISAGREE'))
        if status == 'DISAGREE':
            unlisted.append(case)
        rows.append((case, out, status))

    def cell(result):
        rc, line = result
        return 'accept' if rc == 0 else f'refuse ({rc}): {line}'

    table = ['| case | kind | group | fwknop | knock | status | detail |', '|---|---|---|---|---|---|---|']
    for case, out, status in rows:
        table.append(f"| `{case.id}` | {case.kind} | {case.group or '-'} | {cell(out['fwknop'])} | "
                     f"{cell(out['knock'])} | {status} | {case.detail[:80]} |".replace('\n', ' '))
    if args.table:
        Path(args.table).write_text('\n'.join(table) + '\n')
    if args.json:
        Path(args.json).write_text(json.dumps([{
            'id': c.id, 'kind': c.kind, 'group': c.group, 'detail': c.detail, 'command': c.command,
            'fwknop': o['fwknop'], 'knock': o['knock'], 'knock_strict': o.get('knock-strict'),
            'status': s} for c, o, s in rows], indent=1))

    for case, out, status in rows:
        if status != 'agree':
            print(f"{status:10} {case.kind:6} {case.id:32} fwknop: {cell(out['fwknop'])}")
            print(f"{'':10} {'':6} {'':32} knock:  {cell(out['knock'])}")
    print()
    print('kind    group  agree  disagree  (knock without --allow-no-hmac refuses)')
    total = [0, 0]
    for (kind, group), (a, d, s) in sorted(counts.items()):
        print(f'{kind:7} {group:6} {a:5}  {d:8}  ({s})')
        total[0] += a
        total[1] += d
    print(f'total: {total[0]} of {total[0] + total[1]} agree; {len(unlisted)} disagreements not '
          f'listed in {args.compat}')
    return 1 if unlisted else 0


if __name__ == '__main__':
    sys.exit(main())
