#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The cvmbus tool as a user runs it (tests/cli): help and version, exit
codes, the default `cvmbus run`, its JSON report with the documented fields,
the configuration file (default, round trip, overrides) and every kind of bad
configuration (unknown key, bad value, wrong type, missing file, malformed
JSON: exit 2, the field and the problem named), -q / -v, the progress bar on
a terminal (and never in a pipe), and the man page.

usage: test_cli.py CVMBUS_TOOL SOURCE_DIR [GROUP]
GROUP (help, run, config, progress, man) runs one part, so that each ctest
stays short under the sanitizers; without it, everything runs.
"""
import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time

TOOL = sys.argv[1]
SRC = sys.argv[2]
GROUP = sys.argv[3] if len(sys.argv) > 3 else None
failures = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
        print(f"FAIL: {what}", flush=True)


def run(*args, stdin=None):
    p = subprocess.run([TOOL, *args], capture_output=True, timeout=120, input=stdin)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def commands():
    rc, out, _ = run("--help")
    section = out.split("commands:")[1].split("\n\n")[0]
    return [line.split()[0] for line in section.strip().splitlines()]


def test_help_version():
    rc, out, err = run("--help")
    check(rc == 0 and out.startswith("usage: cvmbus"), "--help")
    for code in ("0 ok", "1 the operation failed", "2 bad usage", "3 corrupt input"):
        check(code in out, f"--help documents exit code '{code}'")
    rc, out, err = run("--version")
    check(rc == 0 and re.fullmatch(r"cvmbus \d+\.\d+\.\d+\n", out), f"--version: {out!r}")
    cmds = commands()
    for c in ("run", "config", "matrix", "trace", "ring", "demo", "attest"):
        check(c in cmds, f"--help lists {c}")
    for c in cmds:
        rc, out, err = run(c, "--help")
        check(rc == 0 and f"usage: cvmbus {c}" in out, f"cvmbus {c} --help (exit {rc})")
        rc2, out2, _ = run("help", c)
        check(rc2 == 0 and out2 == out, f"cvmbus help {c} is {c} --help")
    rc, out, err = run()
    check(rc == 2 and "usage: cvmbus" in err, "no command: usage on stderr, exit 2")
    rc, out, err = run("frobnicate")
    check(rc == 2 and "unknown command 'frobnicate'" in err, "unknown command: exit 2")
    rc, out, err = run("--frob", "run")
    check(rc == 2 and "unknown option '--frob'" in err, "unknown global option: exit 2")
    rc, out, err = run("run", "--frob")
    check(rc == 2 and "unknown option '--frob'" in err, "unknown run option: exit 2")


def test_default_run():
    rc, out, err = run("run")
    check(rc == 0, f"default run exit {rc}: {err}")
    for head in ("vm: snp+paravisor(confidential)", "negotiation", "channels", "exposure",
                 "control messages", "secret scan", "throughput:", "status: ok",
                 "devices (configured)"):
        check(head in out, f"run prints {head!r}")
    # By default the parties' progress lines stay quiet; -v shows them.
    check(" info: " not in err, "run is quiet by default")
    rc, out, err = run("-v", "run")
    check(rc == 0 and " info: " in err, "cvmbus -v run logs info lines")
    rc, out, err = run("run", "-v")
    check(rc == 0 and " info: " in err, "cvmbus run -v logs info lines")
    rc, out, err = run("-q", "run")
    check(rc == 0 and err == "", f"cvmbus -q run: nothing on stderr ({err!r})")


DOCUMENTED = {
    "config": ["isolation", "paravisor", "confidential_vmbus", "arch", "max_version", "detect",
               "vcpus", "executor", "seed"],
    "negotiation": ["connected", "connect_status", "version", "features", "features_names",
                    "confidential", "msg_conn_id", "post_path", "signal_path", "detection",
                    "initiate_contact", "contacts"],
    "exposure": ["steady", "pages_now", "pages_ever", "reasons", "ranges", "ranges_dropped"],
    "messages": ["total", "by_path"],
    "throughput": ["echo_packets", "echo_ns", "packets_per_s"],
    "trace": ["events", "hash"],
    "workload": ["packets", "bytes", "disk_bytes"],
}
CHANNEL_KEYS = ["relid", "device", "if_type", "if_instance", "owner", "host_relid", "offer_flags",
                "offer_flags_names", "confidential_ring", "confidential_external", "opened",
                "open_status", "ring_gpa", "ring_pages", "ring_private", "ring_pages_visible",
                "signal_path", "synic", "synic_both", "events", "echoes", "echo_status",
                "secret_sent", "secret_hits", "close_status"]


def test_json(tmp):
    path = os.path.join(tmp, "r.json")
    rc, out, err = run("run", "--json", path, "--packets", "5")
    check(rc == 0, f"run --json exit {rc}")
    with open(path) as f:
        r = json.load(f)
    for top in ("config", "config_text", "status", "error", "exec_status", "negotiation",
                "relay", "channels", "exposure", "messages", "throughput", "trace", "devices",
                "workload"):
        check(top in r, f"JSON has {top}")
    for part, keys in DOCUMENTED.items():
        for k in keys:
            check(k in r.get(part, {}), f"JSON {part}.{k}")
    for c in r["channels"]:
        for k in CHANNEL_KEYS:
            check(k in c, f"JSON channels[].{k}")
    check(r["status"] == 0 and r["negotiation"]["confidential"], "JSON: a confidential run")
    echo = [c for c in r["channels"] if c.get("device") == "echo"]
    check(len(echo) == 2, "JSON: the two echo channels")
    check(r["throughput"]["echo_packets"] == 5 * len(echo), "JSON: 5 echoes an echo channel")
    nic = [c for c in r["channels"] if c.get("device") == "nic"]
    check(len(nic) == 1 and nic[0]["owner"] == "host", "JSON: the default NIC, relayed from the host")
    check(r["workload"] == {"packets": 5, "bytes": 64, "disk_bytes": "1M"}, "JSON workload")
    check([d["type"] for d in r["devices"]] == ["disk", "nic"], "JSON devices")
    check(r["devices"][0]["owner"] == "paravisor" and r["devices"][1]["owner"] == "host",
          "JSON device owners")
    check(r["messages"]["total"] == sum(k["count"] for k in r["messages"]["by_path"]),
          "JSON messages add up")
    # '-' is stdout, and then stdout is JSON only.
    rc, out, err = run("run", "--json", "-", "--seed", "4", "--isolation", "tdx")
    r = json.loads(out)
    check(rc == 0 and r["config"]["seed"] == 4 and r["config"]["isolation"] == "tdx",
          "run --json - with overrides")


def test_config_file(tmp):
    rc, default, err = run("config", "--print-default")
    check(rc == 0, "config --print-default")
    d = json.loads(default)
    check(d["topology"]["isolation"] == "snp" and d["topology"]["paravisor"] is True
          and d["topology"]["confidential_vmbus"] is True, "default topology")
    check([(x["type"], x["owner"]) for x in d["devices"]] == [("disk", "paravisor"),
                                                                ("nic", "host")],
          "default devices: the paravisor's disk, the host's NIC")
    # --print with no options is the default, every field spelled out.
    rc, printed, err = run("config", "--print")
    check(rc == 0 and printed == default, "config --print == --print-default")
    path = os.path.join(tmp, "default.json")
    with open(path, "w") as f:
        f.write(default)
    rc, out, err = run("config", "--check", path)
    check(rc == 0 and out == f"{path}: ok\n", "config --check of the default")
    rc, out, err = run("config", "--print", "--config", path)
    check(rc == 0 and out == default, "the default round-trips through a file")

    # A file with a few fields; options override it whatever their order.
    small = os.path.join(tmp, "small.json")
    with open(small, "w") as f:
        json.dump({"topology": {"isolation": "tdx", "seed": 5, "vcpus": 3},
                   "workload": {"packets": 3}}, f)
    rc, out, err = run("run", "--vcpus", "4", "--config", small, "--json", "-")
    r = json.loads(out) if rc == 0 else {}
    check(rc == 0 and r["config"]["vcpus"] == 4 and r["config"]["isolation"] == "tdx"
          and r["config"]["seed"] == 5 and r["workload"]["packets"] == 3,
          f"run --config with an override (exit {rc}: {err})")
    rc, out, err = run("config", "--print", "--config", small, "--set", "devices[1].mtu=9000",
                       "--nic-backend", "tap", "--set",
                       'devices[1].namespaces={"guest":"g","host":"h"}', "--no-paravisor",
                       "--no-confidential-vmbus")
    p = json.loads(out) if rc == 0 else {}
    check(rc == 0 and p["devices"][1]["mtu"] == 9000 and p["devices"][1]["backend"] == "tap"
          and p["devices"][1]["namespaces"] == {"guest": "g", "host": "h"},
          f"--set and named device options ({err})")
    check(rc == 0 and p["devices"][0]["owner"] == "host",
          "without a paravisor the default disk is the host's")
    # outputs in the file are honoured.
    outs = os.path.join(tmp, "outs.json")
    html = os.path.join(tmp, "outs.html")
    with open(outs, "w") as f:
        json.dump({"outputs": {"report": html, "json": os.path.join(tmp, "outs.r.json")}}, f)
    rc, out, err = run("run", "--config", outs)
    check(rc == 0 and os.path.getsize(html) > 10000
          and os.path.exists(os.path.join(tmp, "outs.r.json")), "outputs from the file")


BAD = [
    # (what, file content or None, extra args, exit code, expected stderr fragment)
    ("unknown key", '{"topology": {"vcpu": 2}}', [], 2,
     "topology.vcpu: unknown key (known: isolation, paravisor"),
    ("unknown top-level key", '{"disks": []}', [], 2, "disks: unknown key"),
    ("bad value", '{"topology": {"vcpus": 99}}', [], 2,
     "topology.vcpus: 99 is not a number from 1 to 64"),
    ("bad owner", '{"devices": [{"type": "disk", "size": "1M"}, {"type": "nic", '
     '"owner": "guest"}]}', [], 2, "devices[1].owner: 'guest' is not host or paravisor"),
    ("wrong type", '{"topology": {"paravisor": "yes"}}', [], 2,
     "topology.paravisor: 'yes' is not true or false"),
    ("wrong type of section", '{"workload": [8]}', [], 2, "workload: [8] is not an object"),
    ("malformed JSON", '{"topology": {"vcpus": 2,}}', [], 2, "invalid JSON"),
    ("not an object", '[1, 2]', [], 2, "the configuration is not a JSON object"),
    ("missing file", None, [], 2, "No such file or directory"),
    ("bad option value", "{}", ["--vcpus", "0"], 2, "--vcpus: '0' is not a number from 1 to 64"),
    ("bad --set", "{}", ["--set", "devices[1].owner=guest"], 2,
     "devices[1].owner: 'guest' is not host or paravisor"),
    ("bad --set path", "{}", ["--set", "topology..x=1"], 2, "is not a field path"),
]


def test_bad_config(tmp):
    for i, (what, content, extra, code, want) in enumerate(BAD):
        path = os.path.join(tmp, f"bad{i}.json")
        if content is not None:
            with open(path, "w") as f:
                f.write(content)
        for cmd in (["run", "--config", path], ["config", "--check", path]):
            rc, out, err = run(*cmd, *extra)
            check(rc == code and want in err,
                  f"{what}: {' '.join(cmd[:1])} exit {rc}, stderr {err.strip()!r}")
            check(out == "", f"{what}: nothing on stdout")
            if content is not None and content != "{}" and "JSON" not in what:
                check(path in err, f"{what}: the message names the file")
    # The malformed file's message says where.
    path = os.path.join(tmp, "bad6.json")
    rc, out, err = run("run", "--config", path)
    check(re.search(re.escape(path) + r":1:\d+: invalid JSON", err), f"line:column ({err})")
    # A topology that cannot exist is exit 2 too.
    rc, out, err = run("run", "--arch", "arm64")
    check(rc == 2 and "does not exist on arm64" in err, "snp on arm64: exit 2")


def read_pty(fd, proc, limit=120):
    data = b""
    end = time.time() + limit
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        elif proc.poll() is not None:
            break
    proc.wait(timeout=limit)
    return data.decode(errors="replace")


def test_progress():
    # On a terminal a long run draws a bar on stderr and erases it; in a
    # pipe, never. 50000 echoes a channel take over a second (the bar
    # waits half a second before it appears).
    master, slave = pty.openpty()
    proc = subprocess.Popen([TOOL, "run", "--packets", "50000", "--no-devices"],
                            stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    err = read_pty(master, proc)
    os.close(master)
    check(proc.returncode == 0, f"long run on a pty exit {proc.returncode}")
    check(re.search(r"\rrun \[[#.]{30}\] +\d+% \d+/100002 echoes", err),
          f"a progress bar on the terminal ({err[:200]!r})")
    check(err.endswith("\r\x1b[K"), "the bar is erased at the end")
    rc, out, err = run("run", "--packets", "5000", "--no-devices")
    check(rc == 0 and "\r" not in err and "#" not in err, "no bar when stderr is a pipe")


def test_man():
    man = os.path.join(SRC, "docs", "cvmbus.1")
    with open(man) as f:
        text = f.read()
    for c in commands():
        check(re.search(r"^\.SS .*\b" + re.escape(c) + r"\b", text, re.M),
              f"cvmbus.1 has a section for {c}")
    for code in ("0", "1", "2", "3"):
        check(re.search(r"^\.TP\n\.B " + code + r"\n", text, re.M), f"cvmbus.1 exit code {code}")
    if not shutil.which("groff"):
        print("SKIP: groff missing, the man page is not rendered")
        return
    p = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", man], capture_output=True)
    check(p.returncode == 0 and p.stderr == b"", f"groff -ww warnings: {p.stderr[:400]!r}")
    if shutil.which("man"):
        p = subprocess.run(["man", "-l", man], capture_output=True,
                           env={**os.environ, "MANPAGER": "cat", "PAGER": "cat",
                                "MANWIDTH": "80"})
        check(p.returncode == 0 and b"EXIT STATUS" in p.stdout, "man -l renders")


def main():
    with tempfile.TemporaryDirectory(prefix="cvmbus-cli-") as tmp:
        groups = {
            "help": [test_help_version],
            "run": [test_default_run, lambda: test_json(tmp)],
            "config": [lambda: test_config_file(tmp), lambda: test_bad_config(tmp)],
            "progress": [test_progress],
            "man": [test_man],
        }
        if GROUP and GROUP not in groups:
            print(f"unknown group {GROUP}")
            return 2
        for name, tests in groups.items():
            if GROUP in (None, name):
                for t in tests:
                    t()
    print(f"{checks - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
