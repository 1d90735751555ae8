# bench/compare_report.py - turns bench/compare's figures into ratios to the raw floor: a table
# (printed and written as Markdown), the targets met or missed, and a gnuplot PNG of round-trip
# latency against message size.
# SPDX-License-Identifier: BSL-1.0
#
#   python3 compare_report.py RESULTS --out DIR [--rounds N] [--cpu N] [--machine TEXT]
#                             [--versions TEXT] [--seconds N]
#
# RESULTS holds lines "round row metric size value". Each figure is divided by raw's figure for
# the same metric, size and round; a cell is the median of those per-round ratios. Time metrics
# (round trips, spawn): lower is better. Rate metrics (throughput, passes/s): higher is better.
import argparse
import datetime
import os
import statistics
import subprocess
import sys
from collections import defaultdict

SYSTEMS = [  # (row, label)
    ("raw", "raw syscalls (floor)"),
    ("ipc-raw", "ipcxx raw, sync"),
    ("ipc-raw-async", "ipcxx raw, async"),
    ("ipc-binary", "ipcxx binary, sync"),
    ("ipc-binary-async", "ipcxx binary, async"),
    ("ipc-json", "ipcxx json, sync"),
    ("ipc-json-async", "ipcxx json, async"),
    ("asio", "Asio by hand"),
    ("node-json", "Node fork, json"),
    ("node-advanced", "Node fork, advanced"),
    ("py-bytes", "Python send_bytes"),
    ("py-pickle", "Python send (pickle)"),
]
IPC = [s for s, _ in SYSTEMS if s.startswith("ipc-")]
PEERS = ["node-json", "node-advanced", "py-bytes", "py-pickle"]
SIZES = [8, 1024, 65536, 1048576]
# (metric, size, header, lower is better)
COLUMNS = [(m, s, f"RT {n} {p}", True)
           for s, n in zip(SIZES, ["8 B", "1 KiB", "64 KiB", "1 MiB"])
           for m, p in (("rt_p50_us", "p50"), ("rt_p99_us", "p99"))] + [
    ("tp_msgs_s", 64, "1-way 64 B msg/s", False),
    ("tp_mb_s", 1048576, "1-way 1 MiB MB/s", False),
    ("fd_per_s", 8, "fd passes/s", False),
    ("spawn_us", 0, "spawn to 1st msg", True),
]


def load(path):
    figures = defaultdict(dict)  # (row, metric, size) -> {round: value}
    for line in open(path):
        parts = line.split()
        if len(parts) != 5:
            continue
        rnd, row, metric, size, value = parts
        figures[(row, metric, int(size))][int(rnd)] = float(value)
    return figures


def ratios(figures, row, metric, size):
    mine = figures.get((row, metric, size), {})
    floor = figures.get(("raw", metric, size), {})
    return [mine[r] / floor[r] for r in mine if r in floor and floor[r] > 0]


def absolute(value, metric):
    if metric.endswith("_us"):
        return f"{value / 1000:.2f} ms" if value >= 1000 else f"{value:.1f} µs"
    if metric == "tp_mb_s":
        return f"{value:.0f} MB/s"
    return f"{value / 1000:.0f}k/s" if value >= 1000 else f"{value:.0f}/s"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--out", required=True)
    ap.add_argument("--rounds", type=int, default=0)
    ap.add_argument("--cpu", default="0")
    ap.add_argument("--machine", default="")
    ap.add_argument("--versions", default="")
    ap.add_argument("--seconds", default="?")
    a = ap.parse_args()
    figures = load(a.results)
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    ratio = {}  # (row, column index) -> median ratio
    for row, _ in SYSTEMS:
        for i, (metric, size, _, _) in enumerate(COLUMNS):
            r = ratios(figures, row, metric, size)
            if r:
                ratio[(row, i)] = (statistics.median(r), min(r), max(r))

    out = []
    out.append(f"Measured {date} on {a.machine}; {a.versions}. Every process pinned to CPU "
               f"{a.cpu}; {a.rounds} rounds, order rotated; {a.seconds} s.")
    out.append("")
    out.append("Each cell: the median over rounds of the figure divided by raw's in the same "
               "round. Round trips and spawn: time ratio, lower is better. Throughput and "
               "passes/s: rate ratio, higher is better. The first line gives raw's own figures.")
    out.append("")
    out.append("| system | " + " | ".join(c[2] for c in COLUMNS) + " |")
    out.append("|---|" + "---|" * len(COLUMNS))
    raw_cells = []
    for metric, size, _, _ in COLUMNS:
        v = list(figures.get(("raw", metric, size), {}).values())
        raw_cells.append(absolute(statistics.median(v), metric) if v else "–")
    out.append("| raw syscalls (floor) | " + " | ".join(raw_cells) + " |")
    for row, label in SYSTEMS[1:]:
        cells = [f"{ratio[(row, i)][0]:.2f}×" if (row, i) in ratio else "–"
                 for i in range(len(COLUMNS))]
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    out.append("")
    out.append("Spread of the ratios over rounds (min–max):")
    out.append("")
    out.append("| system | " + " | ".join(c[2] for c in COLUMNS) + " |")
    out.append("|---|" + "---|" * len(COLUMNS))
    for row, label in SYSTEMS[1:]:
        cells = [f"{ratio[(row, i)][1]:.2f}–{ratio[(row, i)][2]:.2f}" if (row, i) in ratio
                 else "–" for i in range(len(COLUMNS))]
        out.append(f"| {label} | " + " | ".join(cells) + " |")

    # Targets of issue #9, on the medians.
    checks = []

    def check(what, row, i, ok_if):
        if (row, i) not in ratio:
            return
        v = ratio[(row, i)][0]
        checks.append((ok_if(v), f"{what}: {dict(SYSTEMS)[row]} {v:.2f}×"))

    for row in IPC:
        for i, (metric, size, head, lower) in enumerate(COLUMNS):
            if metric == "rt_p50_us" and size <= 1024:
                check(f"{head} <= 1.3x", row, i, lambda v: v <= 1.3)
            if metric == "tp_mb_s":
                check(f"{head} >= 0.85x", row, i, lambda v: v >= 0.85)
            if metric == "fd_per_s":
                check(f"{head} >= 0.8x", row, i, lambda v: v >= 0.8)
            peers = [ratio[(p, i)][0] for p in PEERS if (p, i) in ratio]
            if peers and (row, i) in ratio:
                best = min(peers) if lower else max(peers)
                check(f"{head} ahead of Node and Python (best {best:.2f}×)", row, i,
                      (lambda v, b=best: v < b) if lower else (lambda v, b=best: v > b))
    missed = [t for ok, t in checks if not ok]
    out.append("")
    out.append(f"Targets: {len(checks) - len(missed)} of {len(checks)} met "
               "(small round trip <= 1.3×, 1 MiB throughput >= 0.85×, descriptor passing >= "
               "0.8×, ahead of Node and Python in every column).")
    for t in missed:
        out.append(f"- missed: {t}")
    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "table.md"), "w") as f:
        f.write(text)

    # The picture: p50 round trip against size, one line per system.
    dat = os.path.join(a.out, "latency.dat")
    plotted = [(row, label) for row, label in SYSTEMS
               if any(("rt_p50_us" == k[1] and k[0] == row) for k in figures)]
    with open(dat, "w") as f:
        f.write("# size " + " ".join(row for row, _ in plotted) + "\n")
        for size in SIZES:
            vals = []
            for row, _ in plotted:
                v = list(figures.get((row, "rt_p50_us", size), {}).values())
                vals.append(f"{statistics.median(v):.3f}" if v else "NaN")
            f.write(f"{size} " + " ".join(vals) + "\n")
    png = os.path.join(a.out, "bench.png")
    colours = {"raw": "#000000", "ipc-raw": "#d62728", "ipc-raw-async": "#ff7f0e",
               "ipc-binary": "#2ca02c", "ipc-binary-async": "#98df8a", "ipc-json": "#1f77b4",
               "ipc-json-async": "#aec7e8", "asio": "#7f7f7f", "node-json": "#9467bd",
               "node-advanced": "#c5b0d5", "py-bytes": "#8c564b", "py-pickle": "#e377c2"}
    dashes = {"raw": "lw 3", "ipc-": "lw 2", "asio": "lw 2 dt 2", "node": "lw 2 dt 3",
              "py-": "lw 2 dt 4"}
    plots = []
    for col, (row, label) in enumerate(plotted, start=2):
        dash = next(v for k, v in dashes.items() if row.startswith(k))
        plots.append(f"'{dat}' using 1:{col} with linespoints {dash} lc rgb '{colours[row]}' "
                     f"pt {col} title '{label}'")
    script = f"""
set terminal pngcairo size 1100,720 font 'DejaVu Sans,11'
set output '{png}'
set termoption noenhanced
set title "Round-trip latency (p50) against message size, every process pinned to CPU {a.cpu}\\n{date} — {a.machine}" font ',11'
set logscale xy
set xlabel 'message size (bytes)'
set ylabel 'round trip p50 (µs)'
set xtics ('8 B' 8, '1 KiB' 1024, '64 KiB' 65536, '1 MiB' 1048576)
set grid xtics ytics mytics
set key top left box opaque font ',10'
set xrange [6:1400000]
plot {', '.join(plots)}
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    print(f"wrote {os.path.join(a.out, 'table.md')}, {png}")


if __name__ == "__main__":
    main()
