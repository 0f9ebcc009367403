#!/usr/bin/env python3
"""The tables of scripts/gpu-check.sh (issue 14 item 7) from the LEG lines its legs printed.

    scripts/gpu-table.py LEGS_FILE

Gateway rows: rows (images) per second, p50/p99 per request, the mean batch the server formed
(inference_count / execution_count over the measured window), and the ratio to raw in-process:
  - batching off: raw at batch 1 on as many threads as there are callers (the in-process
    counterpart of that many single-row requests at once);
  - batching on: raw on one thread at the batch size formed, interpolated between the measured
    batch sizes on a log2 scale (clamped to the smallest and largest measured).
Target (issue 14): ratio >= 0.8. Raw rows follow, with p50/p99 per run (one batch).
"""
import math
import sys


def parse(path):
    legs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if not parts or parts[0] != "LEG":
                continue
            leg = {"kind": next(p for p in parts[1:] if "=" not in p)}
            for part in parts[1:]:
                if "=" in part:
                    key, value = part.split("=", 1)
                    leg[key] = value
            legs.append(leg)
    return legs


def raw_curve(legs, backend, model):
    """Rows/s of raw on one thread by batch size, sorted by batch."""
    points = sorted((int(l["batch"]), float(l["rows_per_s"])) for l in legs
                    if l["kind"] == "raw" and l["backend"] == backend and l["model"] == model and l["parallel"] == "1")
    return points


def at_batch(curve, batch):
    """(rows/s, label) of raw at a fractional batch size, interpolated on log2(batch)."""
    if not curve:
        return None, "-"
    for b, r in curve:
        if abs(batch - b) < 0.05:
            return r, f"b={b}"
    if batch <= curve[0][0]:
        return curve[0][1], f"b={curve[0][0]}"
    if batch >= curve[-1][0]:
        return curve[-1][1], f"b={curve[-1][0]}" + (" (largest measured)" if batch > curve[-1][0] + 0.05 else "")
    for (b0, r0), (b1, r1) in zip(curve, curve[1:]):
        if b0 <= batch <= b1:
            t = (math.log2(batch) - math.log2(b0)) / (math.log2(b1) - math.log2(b0))
            return r0 + t * (r1 - r0), f"b={batch:.1f} (between {b0} and {b1})"
    return None, "-"


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    legs = parse(sys.argv[1])
    http = [l for l in legs if l["kind"] == "http"]
    raw = [l for l in legs if l["kind"] == "raw"]
    if not http and not raw:
        print("no LEG lines in " + sys.argv[1], file=sys.stderr)
        return 1

    print("| backend | model | callers | batching | gateway rows/s | p50 ms | p99 ms | batch formed | raw rows/s | raw at | ratio | >= 0.8 |")
    print("|---|---|--:|---|--:|--:|--:|--:|--:|---|--:|---|")
    worst = 0
    for l in http:
        model = l["model"].removesuffix("_batched")
        backend = l["backend"]
        callers = int(l["concurrency"])
        formed = float(l["batch_formed"])
        rate = float(l["rows_per_s"])
        if l["batching"] == "off":
            match = [r for r in raw if r["backend"] == backend and r["model"] == model and r["batch"] == "1" and int(r["parallel"]) == callers]
            reference, label = (float(match[0]["rows_per_s"]), f"b=1, {callers} thread(s)") if match else (None, "-")
        else:
            reference, label = at_batch(raw_curve(raw, backend, model), max(formed, 1.0))
            label += ", 1 thread" if reference is not None else ""
        ratio = rate / reference if reference else None
        verdict = "-" if ratio is None else ("yes" if ratio >= 0.8 else "no")
        if int(l.get("failed", "0")) > 0:
            verdict += f" ({l['failed']} failed)"
            worst = 1
        print(f"| {backend} | {model} | {callers} | {l['batching']} | {rate:.1f} | {float(l['p50_ms']):.2f} | {float(l['p99_ms']):.2f} | {formed:.2f} | "
              + (f"{reference:.1f}" if reference else "-") + f" | {label} | " + (f"{ratio:.2f}" if ratio is not None else "-") + f" | {verdict} |")

    print()
    print("| backend | model | batch | threads | raw rows/s | p50 ms per run | p99 ms per run |")
    print("|---|---|--:|--:|--:|--:|--:|")
    for r in raw:
        print(f"| {r['backend']} | {r['model']} | {r['batch']} | {r['parallel']} | {float(r['rows_per_s']):.1f} | {float(r['p50_ms']):.2f} | {float(r['p99_ms']):.2f} |")
    return worst


if __name__ == "__main__":
    sys.exit(main())
