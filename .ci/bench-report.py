#!/usr/bin/env python3
"""The table part of docs/benchmarks.md from `.ci/bench`'s rows; prints the whole file: the part
between the bench markers is replaced, the hand-written findings around it are kept.
Usage: bench-report.py <runs> <commit> <load> <direct µs> <launcher µs> <launcher RSS KB> <MB> <row>...
Each row: label, data MB, median s, min s, max s, peak RSS KB, new registry bytes (tab-separated)."""
import datetime
import os
import platform
import re
import sys

runs, commit, load = sys.argv[1], sys.argv[2], sys.argv[3]
direct_us, launcher_us, launcher_rss = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
mb = sys.argv[7]
rows = [r.split("\t") for r in sys.argv[8:]]
med = {r[0]: float(r[2]) for r in rows}
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def prefix(label):
    m = re.match(r"(scale: [^:]*): ", label)
    return m.group(1) + ": " if m else ""


def ratio(a, b):
    return med[a] / med[b] if a in med and b in med and med[b] > 0 else None


cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
t = []
t.append(f"Commit {commit}; {datetime.date.today()}; machine: {os.cpu_count()} cores, {cpu}, "
         f"kernel {platform.release()}; load average at the end {load} (a shared machine: other "
         "builds ran meanwhile, so compare ratios within this run).")
t.append(f"Main data: `BENCH_MB={mb}` (seeded: many small files, compressible text, random data); "
         f"each case run {runs} times: median, and min-max. Release builds; page cache warm; a "
         "docker-registry on loopback.\n")
t.append("| case | data MB | median s (min-max) | MB/s | × limit (pigz -1 -p2, same data) | new blob bytes in registry | peak RSS MB |")
t.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for label, data, m, lo, hi, rss, stored in rows:
    w = float(m)
    limit = med.get(prefix(label) + "limit: tar | pigz -1 -p2 | sha256sum")
    rate = f"{float(data) / w:.0f}" if w > 0 else "-"
    x = f"{w / limit:.2f}" if limit else "-"
    shown = label.replace("|", "\\|")
    t.append(f"| {shown} | {data} | {w:.3g} ({float(lo):.3g}-{float(hi):.3g}) | {rate} | {x} | {int(stored):,} | {int(rss) / 1024:.0f} |")
t.append(f"\nLauncher start-up (300 runs of `launcher -- /bin/true` against `/bin/true`): "
         f"{launcher_us} µs against {direct_us} µs, so the launcher adds {(launcher_us - direct_us) / 1000:.2f} ms; "
         f"peak RSS {launcher_rss / 1024:.1f} MB.\n")

aims = []


def aim(what, value, target, fmt="{:.2f}×", better="low"):
    if value is None:
        aims.append(f"| {what} | not measured | {target} | - |")
        return
    ok = value <= target if better == "low" else value >= target
    what = what.replace("|", "\\|")
    aims.append(f"| {what} | {fmt.format(value)} | {fmt.format(target)} | {'met' if ok else 'missed'} |")


aims.append("| aim | measured | target | |")
aims.append("| --- | ---: | ---: | --- |")
aim("restorer from -cache-image ÷ from -cache-dir", ratio("restorer from -cache-image", "restorer from -cache-dir"), 1.2)
aim("unchanged + unchanged -cache-image ÷ unchanged re-export (registry)",
    ratio("exporter, registry, unchanged + unchanged -cache-image", "exporter, registry: unchanged re-export"), 1.3)
aim("unchanged + new -cache-image ÷ unchanged re-export (registry)",
    ratio("exporter, registry, unchanged + writes a new -cache-image", "exporter, registry: unchanged re-export"), 1.3)
aim("unchanged + unchanged -cache-dir ÷ unchanged re-export (registry)",
    ratio("exporter, registry, unchanged + unchanged -cache-dir", "exporter, registry: unchanged re-export"), 1.3)
aim("unchanged + new -cache-dir ÷ unchanged re-export (registry)",
    ratio("exporter, registry, unchanged + writes a new -cache-dir", "exporter, registry: unchanged re-export"), 1.3)
rows_by = {r[0]: r for r in rows}


def rate(label):
    r = rows_by.get(label)
    return float(r[1]) / float(r[2]) / 1000 if r and float(r[2]) > 0 else None


aim("unchanged re-export (layout), GB/s of layer data", rate("exporter, layout: unchanged re-export"), 1.5,
    "{:.2f}", "high")
aim("first export (layout) ÷ limit", ratio("exporter, layout: first export", "limit: tar | pigz -1 -p2 | sha256sum"), 0.45)
big = next((k for k in med if k.startswith("scale: ") and k.endswith("MB: exporter, layout: first export")), None)
if big:
    bp = prefix(big)
    aim(f"first export (layout) ÷ limit, {bp[7:-2]}", ratio(big, bp + "limit: tar | pigz -1 -p2 | sha256sum"), 0.45)
    small = rows_by.get("exporter, layout: first export")
    large = rows_by.get(big)
    if small and large:
        lin = (float(large[2]) / float(large[1])) / (float(small[2]) / float(small[1]))
        aim(f"first export (layout) time per MB, {bp[7:-2]} ÷ main size", lin, 1.1)
    peak = max(int(r[5]) for r in rows if r[0].startswith(bp) and "exporter" in r[0]) / 1024
    aim(f"exporter peak RSS at {bp[7:-2]}, MB", peak, 100, "{:.0f}")
aim("first export, registry ÷ layout", ratio("exporter, registry: first export", "exporter, layout: first export"), 1.1)
zl = ratio("exporter, layout: first export", "exporter, layout, zstd: first export")
aim("first export (layout) gzip ÷ zstd (speed-up)", zl, 3.0, "{:.2f}×", "high")
sf = next((prefix(k) for k in med if k.startswith("scale: ") and " small files: " in k), "-")
aim(f"{sf[7:-2]}: unchanged re-export ÷ tar | sha256sum",
    ratio(sf + "exporter, layout: unchanged re-export", sf + "hash only: tar | sha256sum"), 1.0)
aim("launcher start-up, ms added", (launcher_us - direct_us) / 1000, 1.0, "{:.2f}")
t.append("### Aims of issue #18\n")
t.extend(aims)

generated = "\n".join([BEGIN, *t, END])
path = os.path.join(os.path.dirname(__file__), "..", "docs", "benchmarks.md")
try:
    old = open(path).read()
except FileNotFoundError:
    old = ""
if BEGIN in old and END in old:
    print(old[: old.index(BEGIN)] + generated + old[old.index(END) + len(END):], end="")
else:
    print("# Benchmarks\n\nWritten by `make bench` (`.ci/bench`).\n\n" + generated)
