#!/usr/bin/python3
"""Counts every test point of one or more meson testlog.json files.

    summarize.py [--fail LABEL]... TESTLOG.json...

A TAP test contributes each of its top-level `ok` / `not ok` lines (a
`# SKIP` ok or a `# TODO` not ok is counted as skipped); a TAP test that
failed, timed out or crashed without printing any `not ok` counts one more
failure. A test that is not TAP counts as one point. Each --fail LABEL (a
build that broke, a log that is missing) counts as one failure. A testlog
that does not exist counts as one failure too.

The last line printed is exactly `N passed, N failed`; the exit status is
1 if anything failed or nothing ran at all, else 0. Standard library only.
"""

import json
import re
import sys

TAP_LINE = re.compile(r"^(not ok|ok)\b(.*)$")
DIRECTIVE = re.compile(r"#\s*(SKIP|TODO)\b", re.IGNORECASE)
GOOD = {"OK", "EXPECTEDFAIL"}
SKIPPED = {"SKIP"}


def count_tap(stdout):
    """Returns (passed, failed, skipped, saw_plan_or_points) for TAP text."""
    passed = failed = skipped = 0
    seen = False
    for line in stdout.splitlines():
        if line.startswith("1.."):
            seen = True
            continue
        m = TAP_LINE.match(line)
        if not m:
            continue
        seen = True
        d = DIRECTIVE.search(m.group(2))
        if m.group(1) == "ok":
            if d and d.group(1).upper() == "SKIP":
                skipped += 1
            else:
                passed += 1
        elif d and d.group(1).upper() == "TODO":
            skipped += 1
        else:
            failed += 1
    return passed, failed, skipped, seen


def count_test(entry):
    """Returns (passed, failed, skipped) for one testlog entry."""
    result = entry.get("result", "ERROR")
    stdout = entry.get("stdout") or ""
    passed, failed, skipped, is_tap = count_tap(stdout)
    if not is_tap:
        if result in GOOD:
            return 1, 0, 0
        if result in SKIPPED:
            return 0, 0, 1
        return 0, 1, 0
    if result in SKIPPED and passed + failed + skipped == 0:
        skipped = 1
    elif result not in GOOD and result not in SKIPPED and failed == 0:
        failed += 1
    return passed, failed, skipped


def failed_points(stdout, most=10):
    """The first `not ok` lines of a TAP output, indented, for the summary."""
    lines = [l for l in stdout.splitlines()
             if l.startswith("not ok") and not DIRECTIVE.search(l)]
    shown = ["    " + l for l in lines[:most]]
    if len(lines) > most:
        shown.append("    ... and %d more" % (len(lines) - most))
    return shown


def main(argv):
    labels = []
    logs = []
    i = 0
    while i < len(argv):
        if argv[i] == "--fail" and i + 1 < len(argv):
            labels.append(argv[i + 1])
            i += 2
        else:
            logs.append(argv[i])
            i += 1

    total_p = total_f = total_s = 0
    failing = []  # tests with failed points, already counted
    extra = list(labels)  # one failure each
    for path in logs:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                lines = f.readlines()
        except OSError as e:
            extra.append("%s: cannot read (%s)" % (path, e.strerror))
            continue
        for n, line in enumerate(lines, 1):
            line = line.strip()
            if not line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                extra.append("%s:%d: not JSON" % (path, n))
                continue
            p, f, s = count_test(entry)
            total_p += p
            total_f += f
            total_s += s
            if f:
                failing.append("%s: %d failed (%s)" % (entry.get("name", "?"), f,
                                                       entry.get("result", "?")))
                failing += failed_points(entry.get("stdout") or "")
    if total_p == 0 and total_f == 0 and not extra:
        extra.append("no tests ran")
    total_f += len(extra)

    print()
    print("== summary")
    for line in failing + extra:
        print(line if line.startswith(" ") else "FAILED: " + line)
    if total_s:
        print("%d skipped" % total_s)
    print("%d passed, %d failed" % (total_p, total_f))
    sys.stdout.flush()
    return 1 if total_f else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
