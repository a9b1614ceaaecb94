#!/usr/bin/env python3
"""Tests of confirm.py on hand-made inputs (testdata/: a probe exec report in the schema of
runtime-probe/REPORT.md, the programs' coverage files, labels and a corpus.toml), and a parse of the
real labels. Run: python3 bench/recall/runtime/test_confirm.py (prints 'N passed, M failed')."""
import contextlib
import io
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import confirm  # noqa: E402
from _checks import check, finish  # noqa: E402

TD = os.path.join(HERE, "testdata")


def run(args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = confirm.main(args)
    return rc, out.getvalue()


with tempfile.TemporaryDirectory() as tmp:
    js = os.path.join(tmp, "v.json")
    rc, text = run([os.path.join(TD, "results"), "--labels", os.path.join(TD, "labels"), "--corpus",
                    os.path.join(TD, "corpus.toml"), "--json", js])
    rows = {(r["path"], r["line"], r["label"]): r for r in json.load(open(js))}
    want = {
        ("demo/mod.py", 10, "sync"): "confirmed",
        ("demo/mod.py", 11, "sync"): "NOT OBSERVED",
        ("demo/mod.py", 12, "clean"): "clean confirmed",
        ("demo/mod.py", 13, "clean"): "CONTRADICTION",
        ("demo/mod.py", 14, "clean"): "clean confirmed",  # a blocking cudaMalloc is not a labelled sync
        ("demo/mod.py", 20, "sync"): "line not reached",
        ("demo/mod.py", 40, "sync"): "not exercised",
        ("old/m.py", 5, "sync"): "version mismatch",
        ("cpuonly/c.py", 7, "sync"): "no runtime report",
    }
    check("one row per label", len(rows) == len(want), f"{len(rows)} rows")
    for key, verdict in want.items():
        got = rows.get(key, {}).get("verdict")
        check(f"verdict {key}", got == verdict, f"got {got!r}, want {verdict!r}")
    seen = rows[("demo/mod.py", 10, "sync")]["seen"]
    check("counts of a confirmed sync", seen and seen["calls"] == 4 and seen["in_steps"] == 3 and seen["warmup"] == 1,
          str(seen))
    check("classes of a confirmed sync", seen and seen["classes"] == ["device_to_host"], str(seen))
    check("exit 0 without --strict", rc == 0, str(rc))
    check("unlabelled runtime sync listed", "demo/mod.py:30 helper" in text, text)
    check("the non-probe-exec JSON is ignored", "probe_run_report" not in text, text)
    check("per-project row", "  demo | 7 | 1 | 1 | 2 | 1 | 0 | 1 | 1 | 0" in text, text)
    rc, _ = run([os.path.join(TD, "results"), "--labels", os.path.join(TD, "labels"), "--corpus",
                 os.path.join(TD, "corpus.toml"), "--strict"])
    check("exit 1 with --strict and a contradiction", rc == 1, str(rc))
    # nothing ran: every label is 'not exercised'
    empty = os.path.join(tmp, "empty")
    os.mkdir(empty)
    rc, text = run([empty, "--labels", os.path.join(TD, "labels"), "--corpus", os.path.join(TD, "corpus.toml"),
                    "--json", js])
    check("empty results: all not exercised", all(r["verdict"] == "not exercised" for r in json.load(open(js))))
    # a truncated report (a program killed while writing would leave none: probe exec renames at the end,
    # but a copy may be cut) is skipped with a warning, not a crash
    broken = os.path.join(tmp, "broken")
    os.mkdir(broken)
    open(os.path.join(broken, "x.json"), "w").write('{"schema": "probe-exec/1", "lines": [')
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc, text = run([broken, "--labels", os.path.join(TD, "labels"), "--corpus", os.path.join(TD, "corpus.toml")])
    check("a truncated report is skipped", rc == 0 and "warning" in err.getvalue(), err.getvalue())

# The real labels parse: every row sync or clean, with a line number.
labels = confirm.load_labels(os.path.join(os.path.dirname(HERE), "labels"))
check("real labels load", len(labels) > 200, str(len(labels)))
check("real labels are sync or clean", all(lab["label"] in ("sync", "clean") for lab in labels))
check("path matching is by whole path components",
      confirm.path_matches("/tmp/site/diffusers/x.py", "diffusers/x.py")
      and not confirm.path_matches("/tmp/site/mydiffusers/x.py", "diffusers/x.py"))
finish()
