#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""CLI tests of `cvmbus run`, `cvmbus matrix` and `cvmbus trace`.

Runs the built binary the way a user does and parses what it prints:
  - `matrix --json`: the document parses, has all 32 cells, 24 pass, the 8
    SNP/TDX-on-arm64 cells are n/a with the reason, exactly the two
    paravisor SNP/TDX 6.0 cells are confidential, and the exit code is 0;
    a filter that matches nothing exits 2;
  - `trace --jsonl`: every line parses, every msg event has the keys of
    docs/TRACE.md, InitiateContact's hex starts with 0e000000 00000000,
    visibility events carry gpa/pages/state/reason, the same seed gives the
    same bytes, --out FILE writes the same bytes as stdout;
  - `run`: the tables are printed, --json - parses, an impossible
    configuration exits 2 with the reason.
Usage: test_vm_cli.py PATH_TO_CVMBUS
"""
import json
import os
import subprocess
import sys
import tempfile

TOOL = sys.argv[1] if len(sys.argv) > 1 else "cvmbus"
failures = []


def run(*args):
    p = subprocess.run([TOOL, *args], capture_output=True, timeout=240)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def test_matrix_json():
    rc, out, err = run("matrix", "--json", "--seed", "7")
    check(rc == 0, f"matrix --json exit {rc}: {err[-400:]}")
    doc = json.loads(out)
    cells = doc["cells"]
    check(len(cells) == 32, f"{len(cells)} cells")
    check(doc["passed"] == 24 and doc["failed"] == 0 and doc["not_applicable"] == 8,
          f"counts {doc['passed']} {doc['failed']} {doc['not_applicable']}")
    check(doc["executor"] == "deterministic" and doc["seed"] == 7, "executor")
    conf = set()
    for c in cells:
        name = c["cell"]
        arm_hw = name.endswith("/arm64") and ("/snp/" in name or "/tdx/" in name)
        if arm_hw:
            check(not c["applicable"] and c["verdict"] == "n/a", f"{name} should be n/a")
            check("arm64" in (c["na_reason"] or ""), f"{name} n/a reason")
            check(c["report"] is None, f"{name} has no report")
            continue
        check(c["applicable"] and c["verdict"] == "pass", f"{name}: {c['failures']}")
        r = c["report"]
        for key in ("config", "negotiation", "channels", "exposure", "messages",
                    "throughput", "trace"):
            check(key in r, f"{name}: no {key}")
        n = r["negotiation"]
        if n["confidential"]:
            conf.add(name)
        ic = n["initiate_contact"]
        check(ic is not None and ic["head"].startswith("0e00000000000000"),
              f"{name}: InitiateContact head")
        for reason in r["exposure"]["reasons"]:
            if reason["pages_now"]:
                check(reason["allowed"], f"{name}: {reason['reason']} not allowed")
        for ch in r["channels"]:
            check(ch["owner"] in ("host", "paravisor"), f"{name}: owner")
            if ch["confidential_ring"]:
                check(ch["ring_pages_visible"] == 0, f"{name}: ring visible")
                check(ch["secret_hits"] == {"view": 0, "fd": 0}, f"{name}: secret")
    check(conf == {"paravisor/snp/6.0/x86_64", "paravisor/tdx/6.0/x86_64"},
          f"confidential cells {sorted(conf)}")

    rc, out, err = run("matrix", "--cell", "tdx,6.0,paravisor", "--json")
    check(rc == 0, "filtered matrix exit")
    doc = json.loads(out)
    check([c["cell"] for c in doc["cells"]] ==
          ["paravisor/tdx/6.0/x86_64", "paravisor/tdx/6.0/arm64"], "filter result")

    rc, out, err = run("matrix", "--cell", "sev")
    check(rc == 2 and "no cell matches" in err, f"bad filter exit {rc}")
    rc, out, err = run("matrix")
    check(rc == 0 and b"24 passed, 0 failed, 8 not applicable" in out, "matrix table")
    check(b"n/a: snp does not exist on arm64" in out, "n/a reason in the table")


MSG_KEYS = ("seq", "t", "kind", "from", "to", "synic", "path", "trusted", "type", "name",
            "len", "hex")


def check_trace_lines(data, label):
    lines = data.decode().splitlines()
    check(len(lines) > 50, f"{label}: only {len(lines)} lines")
    msgs = contacts = vis = 0
    for i, line in enumerate(lines):
        try:
            ev = json.loads(line)
        except ValueError:
            check(False, f"{label}: line {i + 1} does not parse")
            return
        if ev["kind"] == "msg":
            msgs += 1
            missing = [k for k in MSG_KEYS if k not in ev]
            check(not missing, f"{label}: msg line {i + 1} lacks {missing}")
            check(len(ev["hex"]) == 2 * ev["len"], f"{label}: hex length")
            if ev["name"] == "initiate_contact" and ev["from"] == "guest":
                contacts += 1
                check(ev["hex"].startswith("0e00000000000000"), f"{label}: contact hex")
                check(ev["type"] == 14, f"{label}: contact type")
        if ev["kind"] == "visibility":
            vis += 1
            for k in ("gpa", "pages", "state", "reason"):
                check(k in ev, f"{label}: visibility line {i + 1} lacks {k}")
    check(msgs >= 14 and contacts >= 1 and vis >= 4,
          f"{label}: {msgs} msgs, {contacts} contacts, {vis} visibility")


def test_trace():
    rc, a, err = run("trace", "--jsonl", "--seed", "11")
    check(rc == 0, f"trace exit {rc}: {err[-300:]}")
    check_trace_lines(a, "trace snp+paravisor")
    rc, b, err = run("trace", "--jsonl", "--seed", "11")
    check(a == b, "same seed, different trace")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "t.jsonl")
        rc, out, err = run("trace", "--seed", "11", "--out", path)
        check(rc == 0 and out == b"", "trace --out exit / stdout")
        with open(path, "rb") as f:
            check(f.read() == a, "--out differs from stdout")
    rc, c, err = run("trace", "--jsonl", "--no-paravisor", "--no-confidential-vmbus",
                     "--isolation", "tdx", "--native")
    check(rc == 0, "trace tdx without paravisor")
    check_trace_lines(c, "trace tdx")
    rc, out, err = run("trace", "--isolation", "sev")
    check(rc == 2 and "--isolation" in err, "bad option")


def test_run():
    rc, out, err = run("run")
    text = out.decode()
    check(rc == 0, f"run exit {rc}")
    for head in ("negotiation", "channels", "exposure", "control messages", "secret scan",
                 "throughput:", "status: ok"):
        check(head in text, f"run prints {head}")
    rc, out, err = run("run", "--json", "-", "--isolation", "tdx", "--seed", "3")
    check(rc == 0, "run --json exit")
    r = json.loads(out)
    check(r["negotiation"]["confidential"] and r["negotiation"]["version"] == "6.0",
          "run --json negotiation")
    check(r["config"]["executor"] == "deterministic" and r["config"]["seed"] == 3, "config")
    rc, out, err = run("run", "--arch", "arm64")
    check(rc == 2 and "does not exist on arm64" in err, f"arm64 snp exit {rc}")


def main():
    test_matrix_json()
    test_trace()
    test_run()
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("all CLI checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
