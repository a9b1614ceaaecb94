#!/usr/bin/env python3
"""Draw the hand-judged sample of hot findings (issue 13, Targets) so that it survives new builds.

Per tree, the K hot findings with the smallest keyed hash sha256(f"{seed}:{tree}:{path}:{line}:{code}") are
drawn (a bottom-k draw). A finding that stays hot and stays among the K smallest hashes of its tree is drawn
again at the next build, so its verdict carries over from an earlier verdict file; only the findings new in
the draw need judging. See bench/recall/SAMPLE_PROTOCOL.md.

Usage (at a new build, carrying over the verdicts of the last judged sample):

    python3 bench/recall/sample.py --bin /abs/graphlint --build <commit> \
        --prev bench/recall/sample_04119a7.tsv --out bench/recall/sample_<commit>.tsv

With --json-dir DIR the JSON (`<tree>.json`) and `--show-hot` text (`<tree>.hot.txt`) are read from DIR when
present and written there when graphlint is run. `--self-test` checks the draw's bottom-k properties; `--score FILE` prints a judged file's table.
Standard library only.
"""

import argparse
import csv
import hashlib
import json
import os
import re
import subprocess
import sys

TREES = [
    "toto", "vllm", "sglang", "diffusers", "timm", "peft", "lightning",
    "torchtune", "accelerate", "eagle", "chronos", "transformers",
]
SEED = 20261207
K = 10

# The columns of sample_6c186c2.tsv first, then what a redraw needs.
COLUMNS = [
    "n", "project", "project_hot_findings", "path", "line", "code", "root_kind", "root_function",
    "verdict", "cause", "note",
    "rank", "key_hash", "judged_at", "chain_status", "root", "chain", "message",
]


def key_hash(seed, tree, path, line, code):
    return hashlib.sha256(f"{seed}:{tree}:{path}:{line}:{code}".encode()).hexdigest()


def run_or_read(binary, tree_dir, cache_path, args):
    if cache_path and os.path.exists(cache_path):
        with open(cache_path, encoding="utf-8") as f:
            return f.read()
    if not binary:
        sys.exit(f"no graphlint binary given and no cached output at {cache_path}")
    out = subprocess.run([binary, *args], cwd=tree_dir, capture_output=True, text=True)
    if out.returncode not in (0, 1):
        sys.exit(f"graphlint exited {out.returncode} in {tree_dir}: {out.stderr[-2000:]}")
    text = out.stdout
    if cache_path:
        with open(cache_path, "w", encoding="utf-8") as f:
            f.write(text)
    return text


HEADER = re.compile(r"^(\S.*):(\d+): (\S+)$")


def parse_show_hot(text):
    """(file, def line) -> (root text, chain text) from `--show-hot` output."""
    roots = {}
    cur = None
    for raw in text.splitlines():
        m = HEADER.match(raw)
        if m:
            cur = (m.group(1), int(m.group(2)))
            roots.setdefault(cur, ["", ""])
            continue
        if cur is None:
            continue
        s = raw.strip()
        if s.startswith("root:") and not roots[cur][0]:
            roots[cur][0] = s[len("root:"):].strip()
        elif s.startswith("chain:") and not roots[cur][1]:
            roots[cur][1] = s[len("chain:"):].strip()
    return roots


def root_kind(root_text, chain):
    if "decode loop" in root_text:
        return "decode-loop"
    if "of nn.Module subclass" in root_text:
        return "forward"
    if "(profile" in root_text:
        return "profile"
    if root_text.startswith("captured by"):
        return "graph-capture"
    if root_text.startswith("decorated with"):
        return "decorated"
    if "torch.compile" in root_text:
        return "compiled"
    if root_text:
        return "other"
    # No --show-hot entry: read the first chain link as the 6c186c2 sample did.
    return "forward" if chain and chain[0]["function"].endswith("forward") else "other"


def chain_text(links):
    return " -> ".join(f"{l['function']} ({l['filename']}:{l['row']})" for l in links or [])


def load_prev(paths):
    """(tree, path, line, code) -> prior row (first file given wins)."""
    prev = {}
    for p in paths:
        build = re.sub(r"^sample_|\.tsv$", "", os.path.basename(p))
        with open(p, encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                if not row.get("verdict"):
                    continue
                key = (row["project"], row["path"], int(row["line"]), row["code"])
                if key in prev:
                    continue
                row = dict(row)
                row.setdefault("judged_at", "")
                if not row["judged_at"]:
                    row["judged_at"] = build
                prev[key] = row
    return prev


def draw_units(seed, tree, units, k):
    """The k (path, line, code) units of one tree with the smallest keys, smallest first."""
    return sorted(units, key=lambda u: key_hash(seed, tree, *u))[:k]


def self_test():
    """Bottom-k properties the carry-over relies on; exits non-zero when one fails."""
    units = [(f"pkg/m{i % 7}.py", i, "GL201") for i in range(200)]
    first = draw_units(SEED, "t", units, K)
    assert len(first) == K and first == draw_units(SEED, "t", list(reversed(units)), K), "order-dependent draw"
    # Adding findings that rank below the 10th key, or removing findings outside the sample, keeps the sample.
    cut = key_hash(SEED, "t", *first[-1])
    extra = [(f"new/x{i}.py", i, "GL301") for i in range(500)]
    later = [u for u in extra if key_hash(SEED, "t", *u) > cut]
    kept = [u for u in units if u in first or u[1] % 3]
    assert draw_units(SEED, "t", kept + later, K) == first, "sample moved when findings outside it changed"
    # Removing one drawn finding replaces it by the 11th and keeps the other nine.
    again = draw_units(SEED, "t", [u for u in units if u != first[0]], K)
    assert again[:K - 1] == first[1:] and again[-1] == draw_units(SEED, "t", units, K + 1)[-1], "not a bottom-k draw"
    # The key depends on the tree and the seed.
    assert draw_units(SEED, "u", units, K) != first and draw_units(SEED + 1, "t", units, K) != first
    print("self-test passed")


def score(path):
    """Print the per-tree table of a judged sample file (markdown) and the shares; unjudged rows are counted."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    kinds = ["real", "not-per-step", "not-a-sync", "unsure", ""]
    trees = {}
    for r in rows:
        d = trees.setdefault(r["project"], {"hot": int(r["project_hot_findings"]), "n": 0, **{k: 0 for k in kinds}})
        d["n"] += 1
        d[r["verdict"] if r["verdict"] in kinds else ""] += 1
    print("| tree | hot findings | sampled | real | not per-step | not a sync | unsure | not judged |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    tot = {k: 0 for k in ["hot", "n", *kinds]}
    wnum = wden = 0.0
    for t, d in trees.items():
        print(f"| {t} | {d['hot']} | {d['n']} | {d['real']} | {d['not-per-step']} | {d['not-a-sync']} | "
              f"{d['unsure']} | {d['']} |")
        for k in tot:
            tot[k] += d[k]
        judged = d["real"] + d["not-per-step"] + d["not-a-sync"]
        if judged:
            wnum += d["hot"] * d["real"] / judged
            wden += d["hot"]
    print(f"| all | {tot['hot']} | {tot['n']} | {tot['real']} | {tot['not-per-step']} | {tot['not-a-sync']} | "
          f"{tot['unsure']} | {tot['']} |")
    judged = tot["real"] + tot["not-per-step"] + tot["not-a-sync"]
    if judged:
        print(f"\nreal {tot['real']}/{judged} = {tot['real'] / judged:.3f}; weighted by hot findings "
              f"{wnum / wden:.3f}; {len(trees)} projects; {tot['unsure']} unsure and {tot['']} not judged left out")


def main():
    if "--self-test" in sys.argv[1:]:
        self_test()
        return
    if len(sys.argv) == 3 and sys.argv[1] == "--score":
        score(sys.argv[2])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", help="graphlint binary (absolute path)")
    ap.add_argument("--build", required=True, help="commit of the binary, written into judged_at of new rows' header")
    ap.add_argument("--root", default="/work/realcode", help="directory holding one unpacked tree per project")
    ap.add_argument("--trees", default=",".join(TREES))
    ap.add_argument("--json-dir", help="read/write <tree>.json and <tree>.hot.txt here")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("-k", type=int, default=K)
    ap.add_argument("--prev", action="append", default=[], help="earlier verdict TSV (repeatable, first wins)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    if a.json_dir:
        os.makedirs(a.json_dir, exist_ok=True)
    prev = load_prev(a.prev)
    rows = []
    stats = {"carried_same": 0, "carried_changed": 0, "carried_unknown": 0, "new": 0}
    for tree in a.trees.split(","):
        tdir = os.path.join(a.root, tree)
        jpath = os.path.join(a.json_dir, f"{tree}.json") if a.json_dir else None
        hpath = os.path.join(a.json_dir, f"{tree}.hot.txt") if a.json_dir else None
        findings = json.loads(run_or_read(
            a.bin, tdir, jpath, ["--output-format", "json", "--no-cache", "--exit-zero", "."]) or "[]")
        hot = [f for f in findings if f.get("hot")]
        if not hot:
            print(f"{tree}: 0 hot findings", file=sys.stderr)
            continue
        roots = parse_show_hot(run_or_read(a.bin, tdir, hpath, ["--show-hot", "--no-cache", "."]))
        # One candidate per (path, line, code): the key has no column, so two findings of one rule on one
        # line are one sample unit (the first by column is shown).
        units = {}
        for f in sorted(hot, key=lambda f: (f["filename"], f["location"]["row"], f["location"]["column"], f["code"])):
            units.setdefault((f["filename"], f["location"]["row"], f["code"]), f)
        for rank, (path, line, code) in enumerate(draw_units(a.seed, tree, units, a.k), 1):
            f = units[(path, line, code)]
            links = f.get("hot_path") or []
            last = links[-1] if links else None
            root_text, _ = roots.get((last["filename"], last["row"]), ("", "")) if last else ("", "")
            chain = chain_text(links)
            row = {
                "project": tree, "project_hot_findings": len(hot), "path": path, "line": line, "code": code,
                "root_kind": root_kind(root_text, links),
                "root_function": links[0]["function"] if links else "",
                "verdict": "", "cause": "", "note": "",
                "rank": rank, "key_hash": key_hash(a.seed, tree, path, line, code)[:16],
                "judged_at": "", "chain_status": "new", "root": root_text, "chain": chain,
                "message": f["message"].replace("\t", " ").replace("\n", " "),
            }
            p = prev.get((tree, path, line, code))
            if p:
                row["verdict"], row["cause"], row["note"] = p["verdict"], p.get("cause", ""), p.get("note", "")
                row["judged_at"] = p["judged_at"]
                if not p.get("chain"):
                    row["chain_status"] = "unknown"  # the earlier file has no chain: read the row again
                    stats["carried_unknown"] += 1
                elif p["chain"] == chain:
                    row["chain_status"] = "same"
                    stats["carried_same"] += 1
                else:
                    row["chain_status"] = "changed"  # verdict carried, reading to be checked again
                    stats["carried_changed"] += 1
            else:
                stats["new"] += 1
            rows.append(row)
    for i, r in enumerate(rows, 1):
        r["n"] = i
    with open(a.out, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, delimiter="\t", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    print(f"{len(rows)} rows written to {a.out} (build {a.build}): "
          f"{stats['carried_same']} carried with the same chain, {stats['carried_changed']} carried with a changed "
          f"chain (check again), {stats['carried_unknown']} carried from a file without chains (check again), "
          f"{stats['new']} new to judge")


if __name__ == "__main__":
    main()
