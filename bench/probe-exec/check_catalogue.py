"""Matches a `probe exec --report` of catalogue.py (or its clean twin) to the `# GLxxx` markers:
for each rule, whether its construct's line synced inside the counted steps, how often and how
(APIs), and graphlint's --static-check status of that line. Prints a table, writes JSON."""
import json
import re
import sys

report_path, program, out_path = sys.argv[1], sys.argv[2], sys.argv[3]
report = json.load(open(report_path))
markers = {}
for number, text in enumerate(open(program), start=1):
    for code in re.findall(r"GL\d{3}", text.split("#", 1)[1] if "#" in text else ""):
        markers.setdefault(code, number)
lines = {l["line"]: l for l in report["lines"] if l["file"].endswith(program.rsplit("/", 1)[-1])}
static = {}
for l in (report.get("static_check") or {}).get("lines", []):
    static[l["line"]] = l["status"]
rows = []
for code, line in sorted(markers.items()):
    l = lines.get(line)
    rows.append({
        "rule": code,
        "line": line,
        "observed": bool(l and l["in_steps"] > 0),
        "per_step": l and l["per_step"],
        "apis": l["apis"] if l else [],
        "wait_p50_ns": l and l["wait_p50_ns"],
        "static": static.get(line),
    })
unmarked = [{"line": n, "apis": l["apis"], "per_step": l["per_step"]} for n, l in sorted(lines.items()) if n not in markers.values() and l["in_steps"] > 0]
print(f"{'rule':<7} {'line':>4} {'observed':<9} {'per step':>8}  {'static':<10} apis")
for r in rows:
    print(f"{r['rule']:<7} {r['line']:>4} {str(r['observed']):<9} {r['per_step'] if r['per_step'] is not None else '-':>8}  {str(r['static']):<10} {', '.join(r['apis'])}")
for u in unmarked:
    print(f"unmarked line {u['line']} synced: {u}")
print(f"steps: {report['steps']}")
print(f"observed {sum(r['observed'] for r in rows)} of {len(rows)} rules; verdict {report['verdict']}")
json.dump({"rules": rows, "unmarked": unmarked, "steps": report["steps"], "verdict": report["verdict"]}, open(out_path, "w"), indent=1)
