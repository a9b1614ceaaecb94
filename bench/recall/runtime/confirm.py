#!/usr/bin/env python3
"""Join the recall labels (bench/recall/labels/*.tsv) with what the runtime-truth programs did.

Inputs, from one results folder (run.sh's $OUT, or --reports / --cover):
  <name>.json        probe exec's report (schema probe-exec/1, runtime-probe/REPORT.md)
  <name>.cover.json  the program's own record of the lines it executed (_cover.py)

For every label whose line a program executed on CUDA, under a report that traced it:
  sync  label, sync seen on that line        -> confirmed
  sync  label, no sync seen on that line     -> NOT OBSERVED (the label says sync; the run saw none)
  clean label, no sync seen                  -> clean confirmed
  clean label, a sync seen on that line      -> CONTRADICTION
and, for the rest, why there is no runtime verdict: the line never ran (its function did or did
not), no report for the program that ran it, a CPU-only run, or a wheel version that differs from
corpus.toml (line numbers then do not refer to the labelled code).

A sync is a report line (`lines[]`, the reported Python frame) with at least one call of a sync class
other than the blocking allocator's (`mem_alloc`, `mem_free`: the caching allocator growing, which
the protocol does not count; shown apart). Counts in and out of the counted steps are printed.
Also listed: runtime sync lines in the labelled files that have no label (candidates for labels).

Exit status: 0, or 1 with --strict when there is a NOT OBSERVED or a CONTRADICTION.
"""
import argparse
import collections
import csv
import glob
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RECALL = os.path.dirname(HERE)
ALLOC_CLASSES = {"mem_alloc", "mem_free"}
VERDICTS = ["confirmed", "NOT OBSERVED", "clean confirmed", "CONTRADICTION", "line not reached",
            "not exercised", "no runtime report", "cpu run only", "version mismatch"]


def load_labels(labels_dir):
    out = []
    for path in sorted(glob.glob(os.path.join(labels_dir, "*.tsv"))):
        tree = os.path.splitext(os.path.basename(path))[0]
        with open(path, newline="") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                if not row.get("path"):
                    continue
                out.append({
                    "tree": tree, "path": row["path"].strip(), "line": int(row["line"]),
                    "label": row["label"].strip(), "construct": (row.get("construct") or "").strip(),
                    "unsure": (row.get("unsure") or "").strip() == "yes", "note": (row.get("note") or "").strip(),
                })
    return out


def tree_versions(corpus_toml):
    """{tree: {dist name: version}} from corpus.toml; {} when it cannot be read."""
    try:
        import tomllib
    except ImportError:  # Python < 3.11: no version check
        return {}
    try:
        with open(corpus_toml, "rb") as fh:
            corpus = tomllib.load(fh)
    except OSError:
        return {}
    wheels = {w["name"]: w["version"] for w in corpus.get("wheel", [])}
    return {t["name"]: {n: wheels.get(n) for n in t.get("wheels", [])} for t in corpus.get("tree", [])}


def path_matches(runtime_file, label_path):
    rf = runtime_file.replace("\\", "/")
    return rf == label_path or rf.endswith("/" + label_path)


def load_results(reports_dir, cover_dir):
    """Pairs (name, report or None, cover or None) for every program with either file."""
    names = set()
    reports, covers = {}, {}
    for p in glob.glob(os.path.join(cover_dir, "*.cover.json")):
        name = os.path.basename(p)[: -len(".cover.json")]
        try:
            with open(p) as fh:
                covers[name] = json.load(fh)
            names.add(name)
        except (OSError, ValueError) as e:
            print(f"warning: {p}: {e}", file=sys.stderr)
    for p in glob.glob(os.path.join(reports_dir, "*.json")):
        if p.endswith(".cover.json"):
            continue
        try:
            with open(p) as fh:
                doc = json.load(fh)
        except (OSError, ValueError) as e:
            print(f"warning: {p}: {e}", file=sys.stderr)
            continue
        if not isinstance(doc, dict) or doc.get("schema") != "probe-exec/1":
            continue
        name = os.path.basename(p)[: -len(".json")]
        reports[name] = doc
        names.add(name)
    return [(n, reports.get(n), covers.get(n)) for n in sorted(names)]


def traced(report):
    procs = report.get("processes") or []
    return any(p.get("tracer") == "traced" for p in procs) if procs else True


def sync_lines(report):
    """(file, line) -> counts of the sync calls there (allocator calls apart)."""
    out = {}
    for ln in report.get("lines") or []:
        f, n = ln.get("file"), ln.get("line")
        if f is None or n is None:
            continue
        classes = set(ln.get("classes") or [])
        alloc_only = bool(classes) and classes <= ALLOC_CLASSES
        key = (f, int(n))
        c = out.setdefault(key, {"calls": 0, "in_steps": 0, "warmup": 0, "outside_steps": 0, "alloc": 0,
                                 "classes": set(), "apis": set(), "function": ln.get("function"),
                                 "per_step": None, "wait_total_ns": 0})
        if alloc_only:
            c["alloc"] += int(ln.get("calls") or 0)
            continue
        for k in ("calls", "in_steps", "warmup", "outside_steps", "wait_total_ns"):
            c[k] += int(ln.get(k) or 0)
        c["classes"] |= classes - ALLOC_CLASSES
        c["apis"] |= set(ln.get("apis") or [])
        if ln.get("per_step") is not None:
            c["per_step"] = (c["per_step"] or 0) + float(ln["per_step"])
    return out


def judge(labels, results, versions):
    """One verdict row per label."""
    runs = []
    for name, report, cover in results:
        runs.append({
            "name": name, "report": report, "cover": cover,
            "syncs": sync_lines(report) if report else {},
            "traced": bool(report) and traced(report),
            "cuda": bool(cover) and not str(cover.get("device", "cuda")).startswith("cpu"),
            "dists": (cover or {}).get("distributions") or {},
        })
    rows = []
    for lab in labels:
        want = versions.get(lab["tree"], {})
        ran, entered, seen, mismatch, cpu_only, unreported, progs = False, False, None, [], False, False, []
        for r in runs:
            cover = r["cover"] or {}
            files = [f for f in (cover.get("lines") or {}) if path_matches(f, lab["path"])]
            line_ran = any(lab["line"] in cover["lines"][f] for f in files)
            func_ran = any(first <= lab["line"] <= last
                           for f in files for _q, first, last in (cover.get("functions") or {}).get(f, []))
            hits = [(k, v) for k, v in r["syncs"].items() if k[1] == lab["line"] and path_matches(k[0], lab["path"])]
            if not (line_ran or func_ran or hits):
                continue
            bad = [f"{d} {r['dists'].get(d)} (labels: {v})" for d, v in want.items()
                   if v and d in r["dists"] and r["dists"].get(d) not in (None, v)]
            if bad:
                mismatch += bad
                continue
            entered = entered or func_ran or line_ran
            if not (line_ran or hits):
                continue
            if not r["report"] or not r["traced"]:
                unreported = True
                continue
            if cover and not r["cuda"]:
                cpu_only = True
                continue
            ran = True
            progs.append(r["name"])
            for _k, v in hits:
                if v["calls"] == 0 and v["alloc"] == 0:
                    continue
                seen = seen or {"calls": 0, "in_steps": 0, "warmup": 0, "outside_steps": 0, "alloc": 0,
                                "classes": set(), "per_step": None}
                for k in ("calls", "in_steps", "warmup", "outside_steps", "alloc"):
                    seen[k] += v[k]
                seen["classes"] |= v["classes"]
                if v["per_step"] is not None:
                    seen["per_step"] = (seen["per_step"] or 0) + v["per_step"]
        synced = bool(seen) and seen["calls"] > 0
        if ran:
            if lab["label"] == "sync":
                verdict = "confirmed" if synced else "NOT OBSERVED"
            else:
                verdict = "CONTRADICTION" if synced else "clean confirmed"
        elif mismatch and not entered:
            verdict = "version mismatch"
        elif unreported:
            verdict = "no runtime report"
        elif cpu_only:
            verdict = "cpu run only"
        elif entered:
            verdict = "line not reached"
        else:
            verdict = "not exercised"
        rows.append({**lab, "verdict": verdict, "seen": seen, "programs": progs, "mismatch": sorted(set(mismatch))})
    return rows, runs


def unlabelled_syncs(labels, runs):
    """Runtime sync lines inside the labelled files that no label names."""
    labelled_files = {(lab["tree"], lab["path"]) for lab in labels}
    labelled_lines = {(lab["path"], lab["line"]) for lab in labels}
    out = []
    for r in runs:
        for (f, n), v in sorted(r["syncs"].items()):
            if v["calls"] == 0:
                continue
            for tree, path in labelled_files:
                if path_matches(f, path) and (path, n) not in labelled_lines:
                    out.append((tree, path, n, v, r["name"]))
    return out


def fmt_seen(s):
    if not s:
        return "-"
    ps = f"{s['per_step']:.2f}/step" if s["per_step"] is not None else "-"
    cls = ",".join(sorted(s["classes"])) or ("alloc only" if s["alloc"] else "-")
    return f"calls={s['calls']} in_steps={s['in_steps']} ({ps}) warmup={s['warmup']} outside={s['outside_steps']} [{cls}]"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", nargs="?", default=os.environ.get("OUT", "."),
                    help="folder with <name>.json reports and <name>.cover.json (default $OUT or .)")
    ap.add_argument("--reports", help="folder of the reports (default: RESULTS)")
    ap.add_argument("--cover", help="folder of the .cover.json files (default: RESULTS)")
    ap.add_argument("--labels", default=os.path.join(RECALL, "labels"))
    ap.add_argument("--corpus", default=os.path.join(RECALL, "corpus.toml"))
    ap.add_argument("--all", action="store_true", help="also list every label without a runtime verdict")
    ap.add_argument("--json", help="write the verdict rows to this file")
    ap.add_argument("--strict", action="store_true", help="exit 1 on NOT OBSERVED or CONTRADICTION")
    a = ap.parse_args(argv)
    labels = load_labels(a.labels)
    results = load_results(a.reports or a.results, a.cover or a.results)
    versions = tree_versions(a.corpus)
    rows, runs = judge(labels, results, versions)

    print(f"runtime truth for {len(labels)} labels; programs: "
          + (", ".join(f"{r['name']}({'report' if r['report'] else 'no report'}"
                       f"{', not traced' if r['report'] and not r['traced'] else ''}"
                       f"{', ' + str((r['cover'] or {}).get('device')) if r['cover'] else ', no coverage'})"
                       for r in runs) or "none"))
    order = {v: i for i, v in enumerate(VERDICTS)}
    for tree in sorted({r["tree"] for r in rows}):
        trows = [r for r in rows if r["tree"] == tree]
        print(f"\n== {tree}")
        for r in sorted(trows, key=lambda r: (order[r["verdict"]], r["path"], r["line"])):
            if r["verdict"] in ("not exercised", "version mismatch") and not a.all:
                continue
            u = " unsure" if r["unsure"] else ""
            extra = f"  {fmt_seen(r['seen'])}" if r["seen"] else ""
            if r["mismatch"]:
                extra += "  version: " + "; ".join(r["mismatch"])
            print(f"  {r['verdict']:<17} {r['label']:<5} {r['path']}:{r['line']} {r['construct'] or '-'}{u}{extra}")
            if r["verdict"] in ("NOT OBSERVED", "CONTRADICTION"):
                print(f"      note: {r['note']}")
        skipped = sum(1 for r in trows if r["verdict"] in ("not exercised", "version mismatch"))
        if skipped and not a.all:
            print(f"  ({skipped} labels not exercised or of another version; --all lists them)")

    extra = unlabelled_syncs(labels, runs)
    if extra:
        print("\n== runtime sync lines in labelled files without a label")
        for tree, path, n, v, name in extra:
            print(f"  {tree}: {path}:{n} {v['function'] or '?'}  calls={v['calls']} in_steps={v['in_steps']} "
                  f"[{','.join(sorted(v['classes']))}] ({name})")

    print("\n== per project")
    hdr = ["project", "labels", "sync ok", "sync NOT obs", "clean ok", "clean CONTRA", "ran, no verdict",
           "not reached", "not exercised", "other version"]
    print("  " + " | ".join(hdr))
    tot = collections.Counter()
    for tree in sorted({r["tree"] for r in rows}):
        c = collections.Counter(r["verdict"] for r in rows if r["tree"] == tree)
        n = sum(c.values())
        vals = [n, c["confirmed"], c["NOT OBSERVED"], c["clean confirmed"], c["CONTRADICTION"],
                c["no runtime report"] + c["cpu run only"], c["line not reached"], c["not exercised"],
                c["version mismatch"]]
        tot.update(dict(zip(hdr[1:], vals)))
        print("  " + " | ".join([tree] + [str(v) for v in vals]))
    print("  " + " | ".join(["total"] + [str(tot[h]) for h in hdr[1:]]))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump([{**{k: v for k, v in r.items() if k != "seen"},
                        "seen": ({**r["seen"], "classes": sorted(r["seen"]["classes"])} if r["seen"] else None)}
                       for r in rows], fh, indent=1)
    bad = sum(1 for r in rows if r["verdict"] in ("NOT OBSERVED", "CONTRADICTION"))
    return 1 if (a.strict and bad) else 0


if __name__ == "__main__":
    sys.exit(main())
