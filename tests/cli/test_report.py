#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The HTML report of `cvmbus run --report`, opened the way a person opens
it: in a browser (headless Chromium). The file must be self-contained (no
script, nothing fetched); the DOM Chromium builds from it must hold the
sequence chart with its four lanes and exactly as many message arrows as
the JSON report of the same run counts, and the memory map with pages in
every state the run produced; a screenshot must be a real picture.

With CVMBUS_UPDATE_REPORT_PNG=1 the screenshot is also copied to
docs/report.png (the picture in README.md).

usage: test_report.py CVMBUS_TOOL OUT_DIR [SOURCE_DIR]
Exit 77 (skipped) when Chromium is not installed.
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys

TOOL = sys.argv[1]
OUT = sys.argv[2]
SRC = sys.argv[3] if len(sys.argv) > 3 else None
failures = []
checks = 0

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--hide-scrollbars"]


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
        print(f"FAIL: {what}", flush=True)


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def browser(exe, *args):
    profile = os.path.join(OUT, "profile")
    p = subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                       capture_output=True, timeout=120)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


def main():
    exe = chromium()
    if not exe:
        print("SKIP: chromium is not installed (scripts/install-deps.sh installs it)")
        return 77
    os.makedirs(OUT, exist_ok=True)
    html = os.path.join(OUT, "report.html")
    js = os.path.join(OUT, "report.json")
    for f in (html, js):
        if os.path.exists(f):
            os.unlink(f)
    p = subprocess.run([TOOL, "run", "--report", html, "--json", js], capture_output=True,
                       timeout=120)
    check(p.returncode == 0, f"cvmbus run --report exit {p.returncode}: {p.stderr[:300]!r}")
    check(f"html report: {html}".encode() in p.stdout, "run says where the report is")
    with open(js) as f:
        report = json.load(f)
    total = report["messages"]["total"]
    check(total > 10, f"the run has control messages ({total})")
    with open(html, encoding="utf-8") as f:
        text = f.read()

    # Self-contained: nothing to fetch, nothing to run.
    check("<script" not in text.lower(), "no script")
    for pattern in (r"\bsrc\s*=", r"\bhref\s*=", r"@import", r"url\((?!#)"):
        check(not re.search(pattern, text, re.I), f"no external resource ({pattern})")
    urls = set(re.findall(r"https?://[^\s\"'<>]+", text))
    check(urls <= {"http://www.w3.org/2000/svg"}, f"no URL but the SVG namespace: {urls}")

    # What the browser built from it.
    rc, dom, err = browser(exe, "--dump-dom", "file://" + os.path.abspath(html))
    check(rc == 0 and "</html>" in dom, f"chromium --dump-dom exit {rc}: {err[-300:]!r}")
    chart = re.search(r'<svg id="sequence-chart".*?</svg>', dom, re.S)
    check(chart is not None, "the DOM has the sequence chart")
    chart = chart.group(0) if chart else ""
    lanes = re.findall(r'<g class="lane" id="lane-(\w+)"', chart)
    check(lanes == ["guest", "paravisor", "hypervisor", "host"], f"four lanes: {lanes}")
    arrows = re.findall(r'<g class="msg (trusted|untrusted)"', chart)
    check(len(arrows) == total, f"{len(arrows)} arrows for {total} messages in the JSON")
    trusted = sum(k["count"] for k in report["messages"]["by_path"] if k["trusted"])
    check(arrows.count("trusted") == trusted,
          f"{arrows.count('trusted')} green arrows for {trusted} trusted messages")
    check(re.search(r">open_channel relid \d+<", chart), "arrows are labelled with relids")
    mem = re.search(r'<svg id="memory-map".*?</svg>', dom, re.S)
    check(mem is not None, "the DOM has the memory map")
    mem = mem.group(0) if mem else ""
    pages = {}
    for cls, n in re.findall(r'<rect class="page (now|ever|never)" data-gpa="0x[0-9a-f]+" '
                             r'data-pages="(\d+)"', mem):
        pages[cls] = pages.get(cls, 0) + int(n)
    m = re.search(r'data-pages="(\d+)" data-pages-per-cell="1"', mem)
    check(m and sum(pages.values()) == int(m.group(1)),
          f"the map covers every page once: {pages}")
    check(pages.get("now", 0) == report["exposure"]["pages_now"],
          f"pages host-visible now: map {pages.get('now')} report "
          f"{report['exposure']['pages_now']}")
    check(pages.get("never", 0) > pages.get("now", 0), "most pages were never host-visible")
    check(re.search(r'<rect class="ring confidential"', mem), "the confidential ring is outlined")
    for tid in ("negotiation", "channels", "devices", "exposure", "messages", "secrets",
                "throughput"):
        check(f'id="{tid}"' in dom, f"table {tid}")

    # A picture of it.
    png = os.path.join(OUT, "report.png")
    if os.path.exists(png):
        os.unlink(png)
    rc, out, err = browser(exe, "--window-size=1500,1100", f"--screenshot={png}",
                           "file://" + os.path.abspath(html))
    size = os.path.getsize(png) if os.path.exists(png) else 0
    check(rc == 0 and size > 30000, f"screenshot written ({size} bytes)")
    check(png_size(png) == (1500, 1100), f"screenshot is 1500x1100: {png_size(png)}")
    if SRC and os.environ.get("CVMBUS_UPDATE_REPORT_PNG") == "1" and not failures:
        shutil.copyfile(png, os.path.join(SRC, "docs", "report.png"))
        print("docs/report.png updated")

    print(f"{checks - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
