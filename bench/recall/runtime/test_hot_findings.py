#!/usr/bin/env python3
"""Tests of hot_findings.py on testdata/results (the demo run: lines 9-15, 18, 19, 21, 30 of
demo/mod.py ran; syncs on 10, 13 and 30, an allocator call only on 14). Run: python3
bench/recall/runtime/test_hot_findings.py (prints 'N passed, M failed')."""
import contextlib
import io
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hot_findings  # noqa: E402
from _checks import check, finish  # noqa: E402


def finding(path, line, hot=True):
    return {"code": "GL201", "message": f"line {line}", "filename": path, "location": {"row": line, "column": 1},
            "hot": hot}


with tempfile.TemporaryDirectory() as tmp:
    graphlint = os.path.join(tmp, "demo.json")
    json.dump([finding("demo/mod.py", 10), finding("demo/mod.py", 11), finding("demo/mod.py", 14),
               finding("demo/mod.py", 16), finding("demo/other.py", 3), finding("demo/mod.py", 13, hot=False)],
              open(graphlint, "w"))
    rows_file = os.path.join(tmp, "rows.json")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = hot_findings.main(["--results", os.path.join(HERE, "testdata", "results"), f"demo={graphlint}",
                                "--list", "--json", rows_file])
    rows = {r["line"]: r["verdict"] for r in json.load(open(rows_file))}
    check("exit 0", rc == 0)
    check("a synced line", rows.get(10) == "synced", str(rows))
    check("a line that ran without a sync", rows.get(11) == "ran, no sync", str(rows))
    check("an allocator call is no sync", rows.get(14) == "ran, no sync", str(rows))
    check("a line of a run file that did not run", rows.get(16) == "not run", str(rows))
    check("a file no program ran", rows.get(3) == "file not run", str(rows))
    check("cold findings are left out", 13 not in rows, str(rows))
    check("the share counts synced of those that ran", "| demo | 5 | 1 | 2 | 1 | 1 | 0.33 (1/3) |" in out.getvalue(),
          out.getvalue())
    check("--list names the quiet lines", "`demo/mod.py:11`" in out.getvalue() and "`demo/mod.py:14`" in out.getvalue())
finish()
