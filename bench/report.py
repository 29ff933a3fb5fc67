#!/usr/bin/env python3
"""Merges bench/results/{presign,transfer,migrate}.json into bench/results/latest.json (with the
machine and the date) and prints a markdown table. Usage: python3 bench/report.py [RESULTS_DIR]"""

import datetime
import json
import os
import pathlib
import platform
import sys

results = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent / "results")


def load(name):
    path = results / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def cpu_model():
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def fmt(x, unit=""):
    if x is None:
        return "n/a"
    if isinstance(x, float) and x < 100:
        return f"{x:,.1f}{unit}"
    return f"{x:,.0f}{unit}"


def verdict(ratio, target):
    return f"{ratio:.{0 if ratio >= 100 else 2}f}x (target ≥ {target}x: {'met' if ratio >= target else 'MISSED'})"


presign, transfer, migrate = load("presign"), load("transfer"), load("migrate")
latest = {
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "machine": {"nproc": os.cpu_count(), "cpu": cpu_model(), "kernel": platform.release()},
    "command": "bash bench/run.sh",
    "presign": presign,
    "transfer": transfer,
    "migrate": migrate,
}
(results / "latest.json").write_text(json.dumps(latest, indent=2) + "\n")

rows = []
if presign:
    m = presign["median"]
    for op, key in (("GET", "get_per_sec"), ("PUT", "put_per_sec")):
        ratio = m["ours"][key] / m["boto3"][key]
        rows.append((f"Presign {op} URLs/s, one core", fmt(m["ours"][key]), fmt(m["boto3"][key]), verdict(ratio, 50), "–", "–"))
if transfer:
    m, rss = transfer["median"], transfer["peak_rss_mib"]
    size = transfer["bytes"] >> 20
    for op in ("upload", "download"):
        ratio = m[op]["ours"] / m[op]["peer"]
        rows.append((f"{size} MiB {op}, MB/s (vs aws s3 cp)", fmt(m[op]["ours"]), fmt(m[op]["peer"]), verdict(ratio, 1.0),
                     f"{rss[op]['ours']} MiB", f"{rss[op]['peer']} MiB"))
if migrate and migrate.get("available"):
    m, rss = migrate["median"], migrate["peak_rss_mib"]
    ratio = m["ours"]["objects_per_sec"] / m["peer"]["objects_per_sec"]
    rows.append((f"Migrate {migrate['objects']:,} objects, objects/s (vs rclone copy)",
                 f"{fmt(m['ours']['objects_per_sec'])} ({fmt(m['ours']['mb_per_sec'])} MB/s, {m['ours']['seconds']:.1f} s)",
                 f"{fmt(m['peer']['objects_per_sec'])} ({fmt(m['peer']['mb_per_sec'])} MB/s, {m['peer']['seconds']:.1f} s)",
                 verdict(ratio, 1.5), f"{rss['ours']} MiB", f"{rss['peer']} MiB"))
elif migrate:
    rows.append(("Migrate (vs rclone copy)", "n/a", "n/a", migrate.get("reason", "not run"), "", ""))

m = latest["machine"]
print(f"Machine: {m['nproc']} x {m['cpu']}; {latest['date']}; medians of the runs; `bash bench/run.sh`\n")
print("| Benchmark | AAE | Peer | Ratio vs target | AAE peak RSS | Peer peak RSS |")
print("|---|---|---|---|---|---|")
for row in rows:
    print("| " + " | ".join(row) + " |")
