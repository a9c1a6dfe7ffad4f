#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The VM's disk as an NBD export, driven by real clients.

nbdkit runs nbdkit-cvmbus-plugin.so (plugins/nbdkit), which boots a cvmbus
VM and serves every request through the guest's storvsc, the VMBus ring and
the storvsp of the host or the paravisor. The clients are the ones a person
would use: nbdinfo and nbdcopy (libnbd-bin), fio's nbd engine, qemu-img and
qemu-io. One part per ctest:

  confidential  path=confidential (SNP + paravisor + Confidential VMBus):
                nbdinfo's size and flags; 32 MiB of random data in with
                nbdcopy and back out, sha256 compared; qemu-img info,
                convert out of the export (then compare) and into it; fio
                randrw with crc32c verification; the report: offer flags
                0x6, no bounce page, no failure
  host          the same through the host's disk, relayed by the paravisor:
                offer flags 0, bounce pages exactly the pool
  no-paravisor  the host path of a VM without a paravisor (nbdcopy, qemu-io)
  exposure      a random 32-byte secret written through NBD on each path,
                then every page the host can read scanned at exit: 0 copies
                on the confidential path (and no "bounce" reason at all), at
                least one in the host view and one in the shared memfd on
                the host path
  fault         the VSP stopped mid-I/O (fault-after): the client gets EIO,
                nothing hangs, later clients get EIO at once
  cli           `cvmbus disk`: --help, its refusals (exit 2), creating an
                image with --size, serving it in the foreground until
                SIGTERM (exit 0), --run, --report

Exit 77 (ctest: skipped) if a tool is missing; scripts/install-deps.sh
installs them all. The last line is "N passed, N failed".
Usage: test_disk_nbd.py --part PART --plugin PLUGIN.so --tool CVMBUS
"""
import argparse
import hashlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TOOLS = ("nbdkit", "nbdinfo", "nbdcopy", "fio", "qemu-img", "qemu-io")
SLOW = os.environ.get("CVMBUS_DISK_TEST_SLOW") == "1"
# A sanitizer build's plugin needs the sanitizer runtime loaded into nbdkit
# (which is not instrumented), and only into nbdkit.
PRELOAD = os.environ.get("CVMBUS_DISK_TEST_PRELOAD", "")


def nbdkit_env():
    env = dict(os.environ)
    env.pop("CVMBUS_DISK_TEST_PRELOAD", None)
    if PRELOAD:
        env["LD_PRELOAD"] = PRELOAD
        # nbdkit's own allocations are not ours to leak-check.
        env["ASAN_OPTIONS"] = "detect_leaks=0"
    return env


def nbdkit_wrapper(tmp):
    """An nbdkit for `cvmbus disk --nbdkit` that loads the runtime first."""
    if not PRELOAD:
        return None
    path = os.path.join(tmp, "nbdkit-preload")
    with open(path, "w") as f:
        f.write(f'#!/bin/sh\nLD_PRELOAD="{PRELOAD}" ASAN_OPTIONS=detect_leaks=0 '
                f'exec nbdkit "$@"\n')
    os.chmod(path, 0o755)
    return path
MIB = 1024 * 1024

passed = 0
failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what, flush=True)
    return cond


def run(args, timeout=120, **kw):
    return subprocess.run(args, capture_output=True, timeout=timeout, **kw)


def read_report(path):
    rep = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            rep[k] = v
    return rep


def sha256_file(path, limit=None):
    h = hashlib.sha256()
    left = limit
    with open(path, "rb") as f:
        while left is None or left > 0:
            b = f.read(MIB if left is None else min(MIB, left))
            if not b:
                break
            h.update(b)
            if left is not None:
                left -= len(b)
    return h.hexdigest()


class Export:
    """nbdkit with the plugin in the foreground on a Unix socket."""

    def __init__(self, plugin, tmp, name, keys, size="64M"):
        self.sock = os.path.join(tmp, name + ".sock")
        self.image = os.path.join(tmp, name + ".img")
        self.report = os.path.join(tmp, name + ".report")
        self.uri = "nbd+unix:///?socket=" + self.sock
        self.log = open(os.path.join(tmp, name + ".log"), "w+")
        # Ready means the pidfile: nbdkit binds the socket before the
        # plugin's after_fork boots the VM and only writes the pidfile
        # once that succeeded and it is about to accept. The socket alone
        # can exist before listen() (refused) or in front of a VM that
        # fails to boot (every client then fails with less to say).
        pidfile = os.path.join(tmp, name + ".pid")
        args = ["nbdkit", "--unix", self.sock, "--foreground", "-P", pidfile, plugin,
                "image=" + self.image, "size=" + size, "report=" + self.report] + keys
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=nbdkit_env())
        deadline = time.monotonic() + 60
        while not (os.path.exists(pidfile) and os.path.getsize(pidfile) > 0):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("nbdkit did not start: " + self.output())
            time.sleep(0.02)

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        """SIGTERM, as a user stops it: the plugin writes its report at
        exit. Returns (exit code, report)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = wait_exit(self.proc, self.report, self.output)
        rep = read_report(self.report) if os.path.exists(self.report) else {}
        check(rep != {}, "the plugin wrote its report")
        return rc, rep


def sanitizer_error(text):
    return "ERROR: AddressSanitizer" in text or "runtime error:" in text


def wait_exit(proc, report, output):
    """Wait for nbdkit to exit after SIGTERM; its exit code.

    With a preloaded sanitizer runtime, nbdkit 1.32 hangs in its exit
    handlers (glibc's locale lock, in a library destructor) once any
    thread has printed an error, even with nbdkit's own memory plugin:
    there, a process whose report is written (the plugin's cleanup is
    done) and whose log has no sanitizer error counts as a clean exit."""
    try:
        return proc.wait(timeout=20 if PRELOAD else 60)
    except subprocess.TimeoutExpired:
        pass
    if PRELOAD and report and os.path.exists(report):
        proc.kill()
        proc.wait()
        text = output()
        if not check(not sanitizer_error(text), "sanitizer error: " + text[-1500:]):
            return 1
        print("note: nbdkit hung in its exit handlers after the plugin's cleanup "
              "(preloaded sanitizer runtime): killed")
        return 0
    proc.kill()
    proc.wait()
    check(False, "nbdkit did not exit within 60 s of SIGTERM")
    return -9


def data_roundtrip(ex, tmp, label, mib=32):
    """nbdcopy a random file in and back out: the same bytes."""
    src = os.path.join(tmp, label + ".rnd")
    back = os.path.join(tmp, label + ".back")
    with open(src, "wb") as f:
        f.write(os.urandom(mib * MIB))
    p = run(["nbdcopy", src, ex.uri])
    check(p.returncode == 0, f"{label}: nbdcopy in: {p.stderr.decode()[-300:]}")
    # The export is larger than the file: copy out just as much.
    p = run(["sh", "-c", f'nbdcopy "$1" - | head -c {mib * MIB} > "$2"', "sh", ex.uri, back])
    check(p.returncode == 0, f"{label}: nbdcopy out: {p.stderr.decode()[-300:]}")
    check(sha256_file(src) == sha256_file(back),
          f"{label}: {mib} MiB through nbdcopy came back changed")
    os.unlink(back)
    return src


def qemu_img(ex, tmp, label, src):
    p = run(["qemu-img", "info", "--output=json", ex.uri])
    check(p.returncode == 0 and b'"virtual-size": 67108864' in p.stdout,
          f"{label}: qemu-img info: {p.stdout.decode()[-300:]} {p.stderr.decode()[-300:]}")
    # Out of the export into a qcow2, which must equal the export.
    out = os.path.join(tmp, label + ".qcow2")
    p = run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", ex.uri, out])
    check(p.returncode == 0, f"{label}: qemu-img convert out: {p.stderr.decode()[-300:]}")
    p = run(["qemu-img", "compare", "-f", "raw", "-F", "qcow2", ex.uri, out])
    check(p.returncode == 0, f"{label}: qemu-img compare: {p.stdout.decode()[-300:]}")
    p = run(["qemu-img", "compare", "-f", "raw", "-F", "qcow2", src, out])
    check(p.returncode == 0, f"{label}: the qcow2 copy does not hold the nbdcopy data")
    # A failed convert leaves nothing to remove; the checks above said so.
    if os.path.exists(out):
        os.unlink(out)
    # Into the export: 4 MiB of new random data at offset 0.
    rnd = os.path.join(tmp, label + ".rnd4")
    with open(rnd, "wb") as f:
        f.write(os.urandom(4 * MIB))
    p = run(["qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", rnd, ex.uri])
    check(p.returncode == 0, f"{label}: qemu-img convert in: {p.stderr.decode()[-300:]}")
    p = run(["sh", "-c", f'nbdcopy "$1" - | head -c {4 * MIB}', "sh", ex.uri])
    with open(rnd, "rb") as f:
        check(p.stdout == f.read(), f"{label}: qemu-img convert into the export lost data")
    os.unlink(rnd)


def fio_verify(ex, tmp, label):
    job = os.path.join(tmp, label + ".fio")
    with open(job, "w") as f:
        f.write(f"""[global]
ioengine=nbd
uri={ex.uri}
rw=randrw
bsrange=4k-64k
iodepth=8
size=16m
runtime={2 if SLOW else 3}
time_based=1
verify=crc32c
verify_fatal=1
[disk]
""")
    p = run(["fio", "--output-format=terse", job], timeout=120)
    ok = p.returncode == 0 and b"verify" not in p.stderr
    check(ok, f"{label}: fio randrw verify=crc32c: rc {p.returncode} {p.stderr.decode()[-400:]}")
    if ok:
        fields = p.stdout.decode().strip().splitlines()[-1].split(";")
        # terse v3: read ios at 6 (KiB) .. write io at 47; errors at the end
        check(int(fields[5]) > 0 and int(fields[46]) > 0,
              f"{label}: fio moved no data: {fields[5]} KiB read, {fields[46]} KiB written")


def nbdinfo(ex, label, size=64 * MIB):
    p = run(["nbdinfo", "--size", ex.uri])
    check(p.returncode == 0 and p.stdout.strip() == str(size).encode(),
          f"{label}: nbdinfo --size: {p.stdout!r} {p.stderr.decode()[-300:]}")
    p = run(["nbdinfo", "--json", ex.uri])
    out = p.stdout.decode()
    for key in ('"is_read_only": false', '"can_flush": true', '"can_trim": true',
                '"can_multi_conn": true'):
        check(key in out, f"{label}: nbdinfo --json lacks {key}")


def part_path(plugin, tmp, path, processes=False):
    # processes: the host (its server and storvsp) runs in cvmbus-host, a
    # process of its own holding only the shared memfd; nothing else changes.
    keys = ["path=" + path, "bounce=128"] + (["processes=true"] if processes else [])
    ex = Export(plugin, tmp, path, keys)
    failed_before = failed
    try:
        nbdinfo(ex, path)
        src = data_roundtrip(ex, tmp, path)
        qemu_img(ex, tmp, path, src)
        fio_verify(ex, tmp, path)
    finally:
        rc, rep = ex.stop()
        # Whatever failed, nbdkit's own words (and the plugin's) are the
        # first thing to read: print them before anything else can throw.
        if failed != failed_before or rc != 0:
            print(f"--- nbdkit log ({path}, exit {rc}) ---\n{ex.output()[-4000:]}\n---",
                  flush=True)
    check(rc == 0, f"{path}: nbdkit exit {rc}")
    check(rep.get("state") == "stopped" and rep.get("run_status") == "0",
          f"{path}: the run did not end cleanly: {rep}")
    check(rep.get("failed") == "0", f"{path}: {rep.get('failed')} requests failed")
    check(int(rep.get("requests", "0")) > 300, f"{path}: only {rep.get('requests')} requests")
    check(int(rep.get("max_in_flight", "0")) > 1, f"{path}: never more than one request in flight")
    if path == "confidential":
        check(rep.get("offer_flags") == "0x6", f"offer flags {rep.get('offer_flags')}, want 0x6")
        check(rep.get("exposure_bounce_pages") == "0" and rep.get("bounce_pool_pages") == "0",
              "bounce pages on the confidential path")
        check(int(rep.get("vsc_direct_bytes", "0")) >= 64 * MIB, "data did not go direct")
    else:
        check(rep.get("offer_flags") == "0x0", f"offer flags {rep.get('offer_flags')}, want 0x0")
        check(rep.get("exposure_bounce_pages") == "128" and rep.get("bounce_pool_pages") == "128",
              f"bounce pages visible {rep.get('exposure_bounce_pages')}, pool "
              f"{rep.get('bounce_pool_pages')}: want 128 and 128")
        check(rep.get("vsc_direct_bytes") == "0", "host path sent guest pages directly")
        check(int(rep.get("bounce_bytes_to_device", "0")) >= 32 * MIB, "writes did not bounce")


def part_no_paravisor(plugin, tmp):
    ex = Export(plugin, tmp, "nopv", ["path=host", "paravisor=no", "isolation=snp"], size="16M")
    try:
        nbdinfo(ex, "no-paravisor", 16 * MIB)
        data_roundtrip(ex, tmp, "no-paravisor", mib=8)
        p = run(["qemu-io", "-f", "raw", "-c", "write -P 0x5a 1m 2m", "-c", "read -P 0x5a 1m 2m",
                 ex.uri])
        check(p.returncode == 0 and b"Pattern verification failed" not in p.stdout,
              f"no-paravisor: qemu-io pattern: {p.stdout.decode()[-300:]}")
    finally:
        rc, rep = ex.stop()
    check(rc == 0, f"no-paravisor: nbdkit exit {rc}")
    check(rep.get("offer_flags") == "0x0" and rep.get("connection_confidential") == "0",
          f"no-paravisor: {rep.get('offer_flags')} {rep.get('connection_confidential')}")
    check(rep.get("exposure_bounce_pages") == rep.get("bounce_pool_pages") != "0",
          "no-paravisor: bounce pages visible differ from the pool")


def part_exposure(plugin, tmp):
    for path in ("confidential", "host"):
        secret = secrets.token_bytes(32)
        ex = Export(plugin, tmp, "exp-" + path,
                    ["path=" + path, "secret=" + secret.hex()], size="16M")
        try:
            # 8 KiB of random bytes with the secret at an odd offset: it
            # goes through a read-modify-write of its sector, then is read.
            blob = bytearray(os.urandom(8192))
            blob[1001:1033] = secret
            src = os.path.join(tmp, "secret.bin")
            with open(src, "wb") as f:
                f.write(blob)
            p = run(["nbdcopy", src, ex.uri])
            check(p.returncode == 0, f"{path}: nbdcopy of the secret: {p.stderr.decode()}")
            p = run(["sh", "-c", 'nbdcopy "$1" - | head -c 8192', "sh", ex.uri])
            check(p.stdout == bytes(blob), f"{path}: the secret did not read back")
            os.unlink(src)
        finally:
            rc, rep = ex.stop()
        check(rc == 0, f"{path}: nbdkit exit {rc}")
        check(rep.get("scan_status") == "0" and rep.get("snapshot_status") == "0",
              f"{path}: scan {rep.get('scan_status')} snapshot {rep.get('snapshot_status')}")
        view = int(rep.get("secret_hits_view", "-1"))
        fd = int(rep.get("secret_hits_fd", "-1"))
        if path == "confidential":
            check(view == 0 and fd == 0, f"confidential: the host can read the secret "
                                         f"({view} in its view, {fd} in the memfd)")
            check("exposure.bounce" not in rep, "confidential: a page was shared for bouncing")
            check(rep.get("confidential_external") == "1", "confidential: no 0x4 on the offer")
        else:
            check(view >= 1 and fd >= 1, f"host: the scan is blind: {view} in the view, "
                                         f"{fd} in the memfd (the secret is in bounce pages)")
            check(rep.get("exposure.bounce") == rep.get("bounce_pool_pages") != "0",
                  f"host: {rep.get('exposure.bounce')} bounce pages visible, pool "
                  f"{rep.get('bounce_pool_pages')}")
            check(rep.get("exposure.vmbus-ring") not in (None, "0"), "host: ring not visible")


def part_fault(plugin, tmp):
    ex = Export(plugin, tmp, "fault", ["path=confidential", "fault-after=40", "timeout=2"])
    try:
        # One 16 MiB write: 256 chunks of 64 KiB over 16 guest workers; the
        # VSP is stopped when the 40th is in flight. (One request, so the
        # client never hangs up with replies pending: nbdkit 1.32 asserts
        # on that race, which is not what is tested here.)
        t0 = time.monotonic()
        p = run(["qemu-io", "-f", "raw", "-c", "write -P 0x11 0 16M", ex.uri], timeout=90)
        took = time.monotonic() - t0
        out = (p.stdout + p.stderr).decode()
        check("write failed: Input/output error" in out,
              f"fault: the client did not see EIO: {out[-400:]}")
        print(f"fault: the write failed with EIO after {took:.1f} s")
        # New clients: EIO at once (the service knows the disk is dead),
        # for reads and for flushes.
        p = run(["qemu-io", "-f", "raw", "-c", "read 0 4k", ex.uri], timeout=60)
        out = (p.stdout + p.stderr).decode()
        check("read failed: Input/output error" in out,
              f"fault: a later read did not fail with EIO: {out}")
        p = run(["qemu-io", "-f", "raw", "-c", "flush", ex.uri], timeout=60)
        out = (p.stdout + p.stderr).decode()
        # (qemu-io's flush prints nothing when it fails: its exit code.)
        check(p.returncode != 0, f"fault: a later flush succeeded: {out}")
        p = run(["nbdcopy", ex.uri, "null:"], timeout=60)
        check(p.returncode != 0 and b"Input/output error" in p.stderr,
              f"fault: nbdcopy read past a dead device: {p.stderr.decode()[-300:]}")
    finally:
        rc, rep = ex.stop()
    check(rc == 0, f"fault: nbdkit exit {rc}: {ex.output()[-400:]}")
    check(rep.get("state") == "stopped", f"fault: state {rep.get('state')}")
    check(rep.get("error") == "-110", f"fault: what broke it: {rep.get('error')} (want -ETIMEDOUT)")
    check(rep.get("vsp_stops") == "1", f"fault: vsp_stops {rep.get('vsp_stops')}")
    check(int(rep.get("vsc_timeouts", "0")) >= 1, "fault: no request timed out")
    check(int(rep.get("failed", "0")) >= 3, f"fault: {rep.get('failed')} requests failed")


def part_cli(tool, plugin, tmp):
    p = run([tool, "disk", "--help"])
    check(p.returncode == 0 and b"--socket PATH" in p.stdout, "cli: --help")
    img = os.path.join(tmp, "cli.img")
    sock = os.path.join(tmp, "cli.sock")
    for args, word in ((["--image", img], b"--socket"),
                       (["--image", img, "--socket", sock], b"does not exist"),
                       (["--image", img, "--socket", sock, "--size", "1000"], b"multiple of 512"),
                       (["--image", img, "--socket", sock, "--path", "disk"], b"confidential or host"),
                       (["--image", img, "--socket", sock, "--no-paravisor"], b"needs a paravisor"),
                       (["--image", img, "--socket", sock, "--seed", "1"], b"native"),
                       (["--image", img, "--socket", sock, "--isolation", "sev"], b"--isolation"),
                       (["--image", img, "--socket", sock, "--frobnicate"], b"unknown")):
        p = run([tool, "disk", *args])
        check(p.returncode == 2 and word in p.stderr,
              f"cli: {' '.join(args)}: exit {p.returncode}, {p.stderr.decode().strip()}")
    check(not os.path.exists(img), "cli: a refused command created the image")

    # Serve in the foreground until SIGTERM, as a user runs it.
    wrapper = nbdkit_wrapper(tmp)
    extra = ["--nbdkit", wrapper] if wrapper else []
    rep = os.path.join(tmp, "cli.report")
    proc = subprocess.Popen([tool, "disk", "--image", img, "--socket", sock, "--size", "8M",
                             "--path", "host", "--report", rep, "--plugin", plugin, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not os.path.exists(sock) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    if not check(os.path.exists(sock), "cli: cvmbus disk did not come up"):
        proc.kill()
        print(proc.communicate()[1].decode()[-600:])
        return
    uri = "nbd+unix:///?socket=" + sock
    check(os.path.getsize(img) == 8 * MIB, "cli: --size did not create an 8 MiB image")
    p = run(["nbdinfo", "--size", uri])
    check(p.stdout.strip() == b"8388608", f"cli: nbdinfo: {p.stdout!r} {p.stderr!r}")
    p = run(["qemu-io", "-f", "raw", "-c", "write -P 0xc3 0 64k", "-c", "read -P 0xc3 0 64k", uri])
    check(p.returncode == 0 and b"Pattern verification failed" not in p.stdout,
          f"cli: qemu-io: {p.stdout.decode()[-300:]}")
    p = run([tool, "disk", "--image", img, "--socket", sock])
    check(p.returncode == 2 and b"in use" in p.stderr, "cli: a socket in use was not refused")
    proc.send_signal(signal.SIGTERM)
    errlog = []

    def cli_output():
        # Only once the process is gone (communicate reads to EOF).
        if not errlog:
            errlog.append(proc.communicate()[1].decode(errors="replace"))
        return errlog[0]

    if PRELOAD:
        rc = wait_exit(proc, rep, lambda: "")
    else:
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        rc = proc.wait()
    err = cli_output().encode()
    check(rc == 0, f"cli: exit {rc} after SIGTERM: {err.decode()[-400:]}")
    if PRELOAD:
        check(not sanitizer_error(err.decode()), "cli: sanitizer error: " + err.decode()[-1500:])
    check(b"created" in err and b"serving" in err, f"cli: stderr: {err.decode()[-300:]}")
    check(os.path.exists(rep) and read_report(rep).get("path") == "host", "cli: --report")
    with open(img, "rb") as f:
        check(f.read(65536) == b"\xc3" * 65536, "cli: the data is not in the image file")

    # --run: nbdkit's captive mode, with the plugin found next to the binary.
    p = run([tool, "disk", "--image", img, "--socket", sock, "--run", 'nbdinfo --size "$uri"',
             *extra])
    check(p.returncode == 0 and p.stdout.strip() == b"8388608",
          f"cli: --run: exit {p.returncode} {p.stdout!r} {p.stderr.decode()[-300:]}")
    p = run([tool, "disk", "--image", img, "--socket", sock, "--print-command", "--vcpus", "3"])
    check(p.returncode == 0 and b"--unix" in p.stdout and b"vcpus=3" in p.stdout
          and b"path=confidential" in p.stdout, f"cli: --print-command: {p.stdout!r}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", required=True)
    ap.add_argument("--plugin", required=True)
    ap.add_argument("--tool", required=True)
    a = ap.parse_args()

    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing:
        print("SKIP: missing " + ", ".join(missing) + " (scripts/install-deps.sh installs "
              "nbdkit, libnbd-bin, fio, qemu-utils)")
        return 77
    if b"nbd" not in run(["fio", "--enghelp"]).stdout.split():
        print("SKIP: this fio has no nbd engine")
        return 77
    with tempfile.TemporaryDirectory(prefix="cvmbus-nbd-") as tmp:
        if a.part in ("confidential", "host"):
            part_path(a.plugin, tmp, a.part)
        elif a.part in ("confidential-processes", "host-processes"):
            part_path(a.plugin, tmp, a.part.split("-")[0], processes=True)
        elif a.part == "no-paravisor":
            part_no_paravisor(a.plugin, tmp)
        elif a.part == "exposure":
            part_exposure(a.plugin, tmp)
        elif a.part == "fault":
            part_fault(a.plugin, tmp)
        elif a.part == "cli":
            part_cli(a.tool, a.plugin, tmp)
        else:
            print("unknown part", a.part)
            return 2
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
