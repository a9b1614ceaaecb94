#!/usr/bin/env python3
"""Join graphlint's hot findings on the recall trees with what the runtime-truth programs did.

The labels measure recall on chosen lines; this asks the other question of the same GPU runs: of the
hot findings graphlint reports in the exercised packages, how many synced when their line ran?

Inputs: a results folder of run.sh (probe exec's <name>.json and the programs' <name>.cover.json; more
than one folder may be given, e.g. a later re-run of one program), and graphlint's JSON output for each
tree (`graphlint --output-format json --exit-zero .` run inside bench/recall's unpacked tree), given as
TREE=FILE. Only hot, unsuppressed findings count.

Verdict of a finding, by the runtime line of the finding's first line (the line CPython and the probe
give a multi-line call: its method's line, where graphlint reports it):
  synced        a program ran the line and the probe saw a sync there (allocator calls apart)
  ran, no sync  a program ran the line; no sync there in any run (a false finding, or one that syncs
                only with other inputs or settings: read them)
  not run       a program ran code of the file, not this line
  file not run  no program ran the file
The share `synced / (synced + ran, no sync)` is printed per tree; it is evidence, not a verdict: a
line can be right and quiet in one configuration (e.g. a branch on a value that is on the host here).
"""
import argparse
import collections
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from confirm import load_results, path_matches, sync_lines, traced  # noqa: E402

ORDER = ["synced", "ran, no sync", "not run", "file not run"]


def runtime_lines(results):
    """(executed, synced): per runtime file, the executed lines and the synced lines of traced runs."""
    executed = collections.defaultdict(set)
    synced = collections.defaultdict(set)
    for _name, report, cover in results:
        if not cover or cover.get("device") != "cuda" or report is None or not traced(report):
            continue
        for path, lines in (cover.get("lines") or {}).items():
            executed[path].update(int(n) for n in lines)
        for (path, line), counts in sync_lines(report).items():
            if counts["calls"] > 0:
                synced[path].add(line)
    return executed, synced


def judge(finding, executed, synced):
    path, line = finding["filename"], finding["location"]["row"]
    files = [f for f in executed if path_matches(f, path)]
    if not files:
        return "file not run"
    if any(line in synced.get(f, ()) for f in files):
        return "synced"
    if any(line in executed[f] for f in files):
        return "ran, no sync"
    return "not run"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", action="append", required=True, help="a run.sh results folder (repeatable)")
    ap.add_argument("trees", nargs="+", metavar="TREE=FILE", help="graphlint's JSON output for a recall tree")
    ap.add_argument("--list", action="store_true", help="list every finding that ran without a sync")
    ap.add_argument("--json", help="write one row per hot finding to this file")
    args = ap.parse_args(argv)
    results = [r for folder in args.results for r in load_results(folder, folder)]
    executed, synced = runtime_lines(results)
    rows = []
    for spec in args.trees:
        tree, _, file = spec.partition("=")
        with open(file) as fh:
            findings = json.load(fh)
        for f in findings:
            if not f.get("hot") or f.get("suppressed"):
                continue
            rows.append({"tree": tree, "path": f["filename"], "line": f["location"]["row"], "code": f["code"],
                         "verdict": judge(f, executed, synced), "message": f["message"]})
    counts = collections.Counter((r["tree"], r["verdict"]) for r in rows)
    trees = sorted({r["tree"] for r in rows})
    print("| tree | hot findings | " + " | ".join(ORDER) + " | synced share of those that ran |")
    print("|---|---:|" + "---:|" * len(ORDER) + "---:|")
    for tree in trees + ["all"]:
        c = {v: sum(n for (t, vv), n in counts.items() if vv == v and tree in (t, "all")) for v in ORDER}
        ran = c["synced"] + c["ran, no sync"]
        share = f"{c['synced'] / ran:.2f} ({c['synced']}/{ran})" if ran else "-"
        print(f"| {tree} | {sum(c.values())} | " + " | ".join(str(c[v]) for v in ORDER) + f" | {share} |")
    if args.list:
        print("\nran, no sync:")
        for r in rows:
            if r["verdict"] == "ran, no sync":
                print(f"- {r['tree']}: `{r['path']}:{r['line']}` {r['code']}: {r['message']}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
