#!/usr/bin/env python3
"""Compares the results of a BenchmarkDotNet run (artifacts/bench/results/*-report.csv) and a
load run (artifacts/load/results.csv) with bench/thresholds.json. Prints one line per check and
exits 1 if any fails or a gated result is missing (a gate that finds nothing to check fails)."""
import csv, fnmatch, glob, json, os, re, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
bench_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "artifacts", "bench", "results")
load_csv = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "artifacts", "load", "results.csv")
gates = json.load(open(os.path.join(root, "bench", "thresholds.json")))
failures = 0

def report(ok, text):
    global failures
    print(("ok   " if ok else "FAIL ") + text)
    failures += 0 if ok else 1

def parse_bytes(text):
    m = re.match(r"^\s*([\d.,]+)\s*(B|KB|MB)?\s*$", text or "")
    if not m:
        return None
    value = float(m.group(1).replace(",", ""))
    return value * {"B": 1, "KB": 1024, "MB": 1024 * 1024, None: 1}[m.group(2)]

rows = []
for path in glob.glob(os.path.join(bench_dir, "*-report.csv")):
    cls = os.path.basename(path).split("-report")[0].split(".")[-1]
    for row in csv.DictReader(open(path, encoding="utf-8")):
        row["_class"] = cls
        rows.append(row)

for gate in gates["benchmarks"]:
    name = f'{gate["class"]}.{gate["method"]}' + (f' [{gate["case"]}]' if "case" in gate else "")
    matched = [r for r in rows if r["_class"] == gate["class"] and fnmatch.fnmatch(r["Method"], gate["method"])
               and ("case" not in gate or gate["case"] in (r.get("Case") or ""))]
    if not matched:
        report(False, f"{name}: no result (was the benchmark run?)")
        continue
    for r in matched:
        if "max_allocated_bytes" in gate:
            allocated = parse_bytes(r.get("Allocated"))
            if allocated is None and r.get("Allocated", "").strip() == "-":
                allocated = 0
            report(allocated is not None and allocated <= gate["max_allocated_bytes"],
                   f'{name}: allocated {r.get("Allocated")} (at most {gate["max_allocated_bytes"]} B)')
        if "max_ratio" in gate:
            ratio = float(r.get("Ratio") or "nan")
            report(ratio <= gate["max_ratio"], f'{name}: ratio to baseline {ratio} (at most {gate["max_ratio"]})')

loads = list(csv.DictReader(open(load_csv, encoding="utf-8"))) if os.path.exists(load_csv) else []
for gate in gates["load"]:
    name = f'load {gate["scenario"]} x{gate["callers"]}'
    matched = [r for r in loads if r["tool"] == "runner" and r["scenario"] == gate["scenario"] and int(r["callers"]) == gate["callers"]]
    if not matched:
        report(False, f"{name}: no result in {load_csv}")
        continue
    for r in matched:
        if "max_p50_us" in gate:
            report(float(r["p50_us"]) <= gate["max_p50_us"], f'{name}: p50 {r["p50_us"]} us (at most {gate["max_p50_us"]})')
        if "min_rps" in gate:
            report(float(r["rps"]) >= gate["min_rps"], f'{name}: {r["rps"]} rps (at least {gate["min_rps"]})')
        if "max_errors" in gate:
            report(int(r["errors"]) <= gate["max_errors"], f'{name}: {r["errors"]} errors (at most {gate["max_errors"]})')

print(f"thresholds: {failures} failed")
sys.exit(1 if failures else 0)
