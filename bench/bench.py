#!/usr/bin/env python3
"""vmcert benchmarks (run through bench/run.sh, which builds the binary and the venv).

Why: speed is a promise of vmcert (one connection, one script per target; fleets in parallel),
and promises are measured here, never by timed assertions in tests. Figures are medians of
several runs against real lab VMs (tests/lab/vm.sh); the result is bench/BENCHMARKS.md.

1. One lab VM, full Linux catalogue: vmcert vs the floor (one OpenSSH `ssh` exec running the
   very probe script vmcert sends, printed by `vmcert checks probes --script`) vs
   pytest-testinfra (paramiko backend, one test per probe, same commands); on the lab's own
   network and again with a round-trip time added by bench/latency_proxy.py.
2. Fleet: 1..100 golden VMs (started before timing), wall time, peak RSS and CPU of `vmcert fleet`,
   for the full catalogue, one check, and remote-like targets (a probe that waits 1 s).
3. Report writing: `vmcert run --local` with 1,000 pack checks (and 10 for the baseline).
4. Windows: WS-Man requests per run against tests/winrm for 5 checks and for all.

Every VM started here is stopped by `vm.sh stop NAME` (kills its PID namespace by PID) at the end,
also on an exception or a signal.
"""

import argparse
import contextlib
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
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
import image_bench  # noqa: E402  (the `image` part, its own file)
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
    """Wall seconds, peak RSS (KiB, via /usr/bin/time) and the result of `cmd`; the process's
    CPU seconds (user + system, children included) are in the result's `cpu` attribute."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        t = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", tf.name, *cmd],
                           capture_output=True, **kw)
        wall = time.perf_counter() - t
        rss, user, system = tf.read().strip().splitlines()[-1].split()
    p.cpu = float(user) + float(system)
    return wall, int(rss), p


def machine_busy() -> float:
    """CPU seconds this machine has spent busy (all CPUs; user, nice, system, irq, softirq) since
    boot: the difference over a run is what vmcert and the lab VMs together used."""
    f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (f[0] + f[1] + f[2] + f[5] + f[6]) / os.sysconf("SC_CLK_TCK")


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def known_hosts_line(f: dict) -> str:
    return f"{f['HOST']} {f['HOST_KEY']}\n"


@contextlib.contextmanager
def latency(host: str, rtt_ms: float):
    """(host, port) to reach `host`:22 with `rtt_ms` added (bench/latency_proxy.py), or directly."""
    if not rtt_ms:
        yield host, 22
        return
    proxy = subprocess.Popen([sys.executable, str(ROOT / "bench" / "latency_proxy.py"),
                              "--to", f"{host}:22", "--rtt-ms", str(rtt_ms)],
                             stdout=subprocess.PIPE, text=True)
    try:
        port = int(proxy.stdout.readline())
        yield "127.0.0.1", port
    finally:
        proxy.kill()
        proxy.wait()


def probe_times(f: dict, probes: list[dict], reps: int) -> dict:
    """Seconds each probe takes alone on the VM (run one after the other by one root shell, timed
    by the VM's /proc/uptime: no SSH, no framing, no concurrency), median of `reps` passes."""
    lines = []
    for p in probes:
        lines.append(f"read a _ </proc/uptime; sh -c {shlex.quote(p['command'])} </dev/null >/dev/null 2>&1; "
                     f"read b _ </proc/uptime; echo \"T {p['id']} $a $b\"")
    script = "\n".join(lines) + "\n"
    ssh = ["ssh", "-i", f["KEY_ED25519"], "-o", f"UserKnownHostsFile={f['KNOWN_HOSTS']}",
           "-o", "BatchMode=yes", f"{f['USER']}@{f['HOST']}", "sudo -n sh -s"]
    per: dict[str, list[float]] = {p["id"]: [] for p in probes}
    for _ in range(reps):
        out = subprocess.run(ssh, input=script, capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            _, pid, a, b = line.split()
            per[pid].append(float(b) - float(a))
    return {k: median(v) for k, v in per.items()}


def single(args, work: Path, runs: int, rtts: list[float]) -> dict:
    f = start_vm("keyonly", f"bench-{os.getpid()}-single")
    user, key = f["USER"], f["KEY_ED25519"]
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
    env = dict(os.environ, HOME=str(work))
    env.pop("SSH_AUTH_SOCK", None)
    per_rtt = []
    for rtt in rtts:
        with latency(f["HOST"], rtt) as (host, port):
            kh = work / f"known_hosts_single_{rtt}"
            name = host if port == 22 else f"[{host}]:{port}"
            kh.write_text(f"{name} {f['HOST_KEY']}\n")
            vmcert = [args.vmcert, "run", "--target", f"ssh://{user}@{host}:{port}", "--identity", key,
                      "--known-hosts", str(kh), "--non-interactive", "--allow-unanswered",
                      "--out", str(work / "single.zip"), "--format", "json"]
            ssh = ["ssh", "-p", str(port), "-i", key, "-o", f"UserKnownHostsFile={kh}",
                   "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", f"{user}@{host}", "sh -s"]
            testinfra = [str(Path(args.venv) / "bin" / "pytest"), "-q", "-p", "no:cacheprovider",
                         f"--hosts=paramiko://{user}@{host}:{port}", f"--ssh-identity-file={key}",
                         str(test)]
            # paramiko reads ~/.ssh/known_hosts (HOME is the work dir): the same host key.
            (work / ".ssh").mkdir(exist_ok=True)
            (work / ".ssh" / "known_hosts").write_text(kh.read_text())
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
            per_rtt.append({"rtt_ms": rtt, **{k: median(v) for k, v in times.items()}, "all": times})
            print(f"single rtt {rtt} ms: " + json.dumps({k: round(median(v), 3) for k, v in times.items()}),
                  file=sys.stderr)
    alone = probe_times(f, probes, 3)
    stop_all()
    return {"probes": len(probes), "runs": runs, "rtts": per_rtt, "alone": alone}


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
    # Remote-like targets: a pack probe that waits 1 s on the target without using a CPU, as a
    # real VM's probes do on the VM's own CPUs; with the os-architecture check beside it.
    pack = work / "remote-like.toml"
    pack.write_text('[[check]]\nid = "bench-wait"\ntitle = "waits 1 s on the target"\n'
                    'os = "linux"\ncommand = "sleep 1"\n')
    rows = []
    for label, only, packs in [("full catalogue", [], []),
                               (f"one check ({', '.join(checks)})", checks, []),
                               ("remote-like: one check + a probe waiting 1 s", checks + ["bench-wait"], [pack])]:
        for n in sizes:
            inv = work / f"fleet-{n}.toml"
            lines = [f'[defaults]\nknown_hosts = "{kh}"\nallow_unanswered = true\ntimeout = 600\n']
            if only:
                lines.append(f"checks = {json.dumps(only)}\n")
            if packs:
                lines.append(f"check_packs = {json.dumps([str(x) for x in packs])}\n")
            for i, f in enumerate(facts[:n]):
                lines.append(f'\n[[target]]\nname = "vm{i}"\ntarget = "ssh://{f["USER"]}@{f["HOST"]}"\n'
                             f'identity = "{f["KEY_ED25519"]}"\nsudo_password_env = "BENCH_PW_{i}"\n')
            inv.write_text("".join(lines))
            walls, rsss, cpus, busys = [], [], [], []
            for _ in range(runs):
                out = work / f"fleet-out-{n}"
                busy0 = machine_busy()
                w, rss, p = timed([args.vmcert, "fleet", "--inventory", str(inv), "--jobs", str(n),
                                   "--out-dir", str(out), "--format", "json"], env=env)
                summary = json.loads(p.stdout)
                if summary["completed"] != n:
                    raise SystemExit(f"fleet of {n}: {summary['failed']} failed: "
                                     + json.dumps([t for t in summary["targets"] if t["error"]])[:2000])
                busys.append(machine_busy() - busy0)
                walls.append(w)
                rsss.append(rss)
                cpus.append(p.cpu)
            rows.append({"variant": label, "vms": n, "wall": median(walls), "rss_kib": max(rsss),
                         "cpu": median(cpus), "busy": median(busys), "walls": walls})
            print(f"fleet {label} {n}: {median(walls):.2f}s, {max(rsss)} KiB, "
                  f"vmcert CPU {median(cpus):.2f}s", file=sys.stderr)
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


def windows(args, work: Path, runs: int) -> dict:
    """WS-Man requests (and wall time) of `vmcert run` against the test server, for 5 checks and
    for the whole Windows catalogue. The machine profile answers every probe at once
    (timing_scale 0), so the count does not depend on how fast this machine is."""
    winrm = ROOT / "tests" / "winrm"
    profile = json.loads((winrm / "profiles" / "windows-server-2019.json").read_text())
    profile["vmcert_handler"] = {"timing_scale": 0.0}
    machine_file = work / "windows-server-2019.json"
    machine_file.write_text(json.dumps(profile))
    state = work / "winrm"
    user, password = "vmcert", "Bench-Pa55word!"
    info = json.loads(subprocess.run(
        ["bash", str(winrm / "start.sh"), "--state-dir", str(state), "--scheme", "http",
         "--auth", "ntlm", "--user", f"{user}:{password}", "--handler", "winrm_lab.vmcert_handler",
         "--machine", str(machine_file)], check=True, capture_output=True, text=True).stdout)
    try:
        def stats() -> dict:
            with urllib.request.urlopen(info["stats_url"], timeout=10) as r:
                return json.load(r)
        all_checks = [c["id"] for c in json.loads(subprocess.run(
            [args.vmcert, "checks", "list", "--os", "windows", "--format", "json"],
            check=True, capture_output=True).stdout)]
        env = dict(os.environ, BENCH_WINRM_PASSWORD=password)
        rows = []
        for label, only in [("5 checks", ["os-architecture", "hyper-v-disabled", "rdp-enabled",
                                          "os-disk-size", "auto-update-enabled"]),
                            (f"all {len(all_checks)} checks", [])]:
            walls, requests, ops = [], [], []
            for _ in range(runs):
                before = stats()
                cmd = [args.vmcert, "run", "--target", f"winrm://{user}@127.0.0.1:{info['port']}",
                       "--password-env", "BENCH_WINRM_PASSWORD", "--non-interactive",
                       "--allow-unanswered", "--out", str(work / "windows.zip"), "--format", "json"]
                if only:
                    cmd += ["--checks", ",".join(only)]
                w, _, p = timed(cmd, env=env)
                if p.returncode not in (0, 1) or not (work / "windows.zip").exists():
                    raise SystemExit(f"vmcert run over WinRM failed: {p.stderr.decode()[-2000:]}")
                after = stats()
                walls.append(w)
                requests.append(after["http_requests"] - before["http_requests"])
                ops.append({k: after["operations"].get(k, 0) - before["operations"].get(k, 0)
                            for k in after["operations"]})
            rows.append({"checks": label, "wall": median(walls), "requests": requests,
                         "operations": ops[-1]})
            print(f"windows {label}: requests {requests}", file=sys.stderr)
        return {"runs": runs, "rows": rows}
    finally:
        subprocess.run(["bash", str(winrm / "stop.sh"), "--state-dir", str(state)],
                       capture_output=True)


def machine() -> dict:
    mem = next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal"))
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), "unknown")
    return {"nproc": os.cpu_count(), "mem": mem.split(":", 1)[1].strip(), "cpu": cpu,
            "kernel": platform.release(), "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "load": os.getloadavg()}


def write_md(path: Path, m: dict, res: dict) -> None:
    s, fl, start_s, rw, win = (res.get("single"), res.get("fleet"), res.get("fleet_start_s", 0),
                               res.get("report"), res.get("windows"))
    L = []
    L.append("# vmcert benchmarks\n")
    L.append("Written by `bash bench/run.sh` (as root; `BENCH_RUNS`, `BENCH_FLEET_RUNS`, "
             "`BENCH_FLEET_SIZES`, `BENCH_RTT_MS` tune it; `--only single|fleet|report|windows` "
             "re-measures one part). Medians of several runs against real lab VMs "
             "(tests/lab/vm.sh: namespaces sharing this machine's kernel and CPUs, so every "
             "target's probes compete with vmcert and with each other for the same cores). "
             "This machine is a shared cloud VM whose CPUs' speed drifts: the same binary's "
             "figures differed by up to a third between runs an hour apart, so compare the "
             "ratios within one run, not figures across runs.\n")
    L.append(f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['mem']} memory, kernel {m['kernel']}; "
             f"{m['date']}; load average at the end {m['load'][0]:.2f}.\n")
    if s:
        L.append(f"## One target, full Linux catalogue ({s['probes']} probes, median of {s['runs']})\n")
        L.append("Scenario `keyonly` (ed25519 key login, NOPASSWD sudo: every tool runs root probes "
                 "through `sudo -n`). The lab VM answers over a veth pair (round trip about 0.05 ms); "
                 "the second table puts bench/latency_proxy.py in between, which delays every byte "
                 "by half the round-trip time in each direction (and the connection by one round "
                 "trip), as a VM in an Azure region some distance from the build agent would be.\n")
        for r in s["rtts"]:
            where = ("on the lab's own network" if not r["rtt_ms"]
                     else f"with {r['rtt_ms']:g} ms round-trip time added")
            L.append(f"### {where}\n")
            L.append("| tool | how | wall (s) | vs floor | vmcert faster by |")
            L.append("|---|---|---:|---:|---:|")
            rows = [("vmcert run (release)", "one SSH connection, one `sh -s` channel, report zip", r["vmcert"]),
                    ("floor: OpenSSH `ssh`", "one `ssh host sh -s` exec of vmcert's own probe script, no report", r["floor"]),
                    ("pytest-testinfra (paramiko)", "one test per probe, a channel per command", r["testinfra"])]
            for name, how, w in rows:
                L.append(f"| {name} | {how} | {w:.3f} | {w / r['floor']:.2f}x | {w / r['vmcert']:.2f}x |")
            L.append("")
            L.append(f"Targets: vmcert no slower than the floor: **{'met' if r['vmcert'] <= r['floor'] else 'not met'}** "
                     f"({r['vmcert'] / r['floor']:.2f}x the floor); at least 5x faster than testinfra: "
                     f"**{'met' if r['testinfra'] >= 5 * r['vmcert'] else 'not met'}** ({r['testinfra'] / r['vmcert']:.2f}x).\n")
            L.append("Every run: " + json.dumps({k: [round(x, 3) for x in v] for k, v in r["all"].items()}) + "\n")
        alone = s.get("alone")
        if alone:
            longest = max(alone, key=alone.get)
            total = sum(alone.values())
            base = s["rtts"][0]
            L.append("### The probes alone\n")
            L.append(f"Each probe run alone on the VM, one after the other by one root shell, timed by "
                     f"the VM's clock (no SSH, no framing, no concurrency; median of 3): together "
                     f"**{total:.2f} s**; the longest is `{longest}`, **{alone[longest]:.2f} s** (apt's "
                     "upgrade simulation, `apt-get -s upgrade`: the spec's command); the next are "
                     + ", ".join(f"`{k}` {v:.2f} s" for k, v in sorted(alone.items(), key=lambda kv: -kv[1])[1:4])
                     + f". A run cannot end before its longest probe does, so on the lab's own network "
                     f"no tool running these probes can be more than testinfra / longest = "
                     f"{base['testinfra']:.2f} / {alone[longest]:.2f} = **{base['testinfra'] / alone[longest]:.1f}x** "
                     f"faster than testinfra; vmcert's {base['vmcert']:.2f} s is "
                     f"{base['vmcert'] / alone[longest]:.2f}x that longest probe.\n")
        far = [r for r in s["rtts"] if r["rtt_ms"]]
        if len(far) >= 2:
            lo, hi = far[0], far[-1]
            d = (hi["rtt_ms"] - lo["rtt_ms"]) / 1000
            rt = {k: (hi[k] - lo[k]) / d for k in ("vmcert", "floor", "testinfra")}
            L.append("### Round trips per run\n")
            L.append(f"Estimated from the growth of each median between {lo['rtt_ms']:g} and "
                     f"{hi['rtt_ms']:g} ms: vmcert **{rt['vmcert']:.1f}**, the OpenSSH floor "
                     f"{rt['floor']:.1f}, testinfra **{rt['testinfra']:.1f}** (the proxy's connect "
                     f"delay counts as one). Far enough from the target, the speed-up tends to "
                     f"testinfra's round trips / vmcert's = {rt['testinfra'] / rt['vmcert']:.1f}x.\n")
        L.append("Reading it: on the lab's own network a run is the probes' own time: vmcert runs "
                 "them as many at a time as the VM has CPUs (2 here) and is done soon after apt; "
                 "testinfra runs them one after the other, a channel each, so with no distance to "
                 "the target it can only be about (sum + its per-command cost) / longest slower. "
                 "The gap grows with distance: testinfra pays round trips per probe (channel open, "
                 "exec, exit status, close), vmcert a fixed handful per target (TCP, key exchange, "
                 "authentication, one channel).\n")
    if fl:
        L.append("## Fleet: `vmcert fleet --jobs N` over N golden VMs\n")
        took = f" ({start_s:.0f} s for {max(r['vms'] for r in fl)})" if start_s else ""
        L.append(f"VMs started before timing{took}; wall time is the median of {res.get('fleet_runs', 1)} run(s) per size (BENCH_FLEET_RUNS). "
                 "Login with the ed25519 key, sudo with each VM's own password (`sudo_password_env`). "
                 "Peak RSS and vmcert's own CPU (user + system) from `/usr/bin/time` (RSS: the "
                 "highest over the runs). Machine CPU is what the whole machine spent busy during "
                 "the run (/proc/stat: vmcert, the VMs' sshd, sudo, shells and probes); the CPU floor "
                 "is that divided by the machine's CPUs: no scheduling can finish the run sooner.\n")
        L.append("| checks | VMs | wall (s) | vs 1 VM | per added VM (s) | vmcert CPU per VM (ms) | machine CPU per VM (ms) | CPU floor (s) | wall / CPU floor | peak RSS (MiB) |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in fl:
            one = next(x for x in fl if x["variant"] == r["variant"] and x["vms"] == min(y["vms"] for y in fl))
            slope = (r["wall"] - one["wall"]) / (r["vms"] - one["vms"]) if r["vms"] != one["vms"] else 0
            cpu = f"{1000 * r['cpu'] / r['vms']:.0f}" if "cpu" in r else "-"
            if "busy" in r:
                floor = r["busy"] / (os.cpu_count() or 1)
                busy = f"{1000 * r['busy'] / r['vms']:.0f} | {floor:.2f} | {r['wall'] / floor:.2f}"
            else:
                busy = "- | - | -"
            L.append(f"| {r['variant']} | {r['vms']} | {r['wall']:.2f} | {r['wall'] / one['wall']:.1f}x | "
                     f"{slope:.3f} | {cpu} | {busy} | {r['rss_kib'] / 1024:.1f} |")
        L.append("")
        L.append(f"Reading it: the VMs are namespaces on this machine's {os.cpu_count()} CPUs, so every "
                 "target's probes (for the full catalogue mostly apt and waagent's Python), its sshd "
                 "and its sudo run on the same CPUs as vmcert: wall time grows with the VMs' total "
                 "CPU (the machine CPU column), and a wall / CPU floor near 1 means the run kept "
                 "every CPU busy: the per-VM slope is the targets' CPU, not vmcert waiting. The remote-like rows take the targets' CPU out of the picture the only way "
                 "a 2-core machine can: their probe waits 1 s (as a probe running on a VM's own CPU "
                 "does, from vmcert's point of view), so what remains on this machine is vmcert, "
                 "the SSH handshakes and the small probes. vmcert's own CPU per target is the "
                 "column that real, remote fleets pay here.\n")
        big = [r for r in fl if r["vms"] == max(y["vms"] for y in fl)]
        for r in big:
            if "cpu" in r:
                L.append(f"At {r['vms']} VMs ({r['variant']}) vmcert itself used {r['cpu']:.1f} s of CPU "
                         f"in {r['wall']:.1f} s of wall time, {100 * r['cpu'] / (r['wall'] * (os.cpu_count() or 1)):.0f}% "
                         "of this machine's CPU time; the rest went to the targets (sshd, shells, probes).")
        L.append("")
        for r in big:
            one = next(x for x in fl if x["variant"] == r["variant"] and x["vms"] == min(y["vms"] for y in fl))
            bound = ""
            if "busy" in r:
                floor = r["busy"] / (os.cpu_count() or 1)
                bound = (f"; this machine's CPU floor alone is {floor:.1f} s = "
                         f"{floor / one['wall']:.1f}x one VM")
            L.append(f"- {r['variant']}: {r['vms']} VMs take {r['wall'] / one['wall']:.1f}x one VM "
                     f"(target at most 3x: **{'met' if r['wall'] <= 3 * one['wall'] else 'not met'}**{bound}); "
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
    if win:
        L.append(f"## Windows: WS-Man requests per run (tests/winrm test server, median of {win['runs']})\n")
        L.append("`vmcert run` over `winrm://` (HTTP, NTLM with message sealing) against the WS-Man "
                 "test server playing the golden Windows Server 2019 profile, every probe answering "
                 "at once. Requests are counted by the server.\n")
        L.append("| checks | HTTP requests per run (each run) | Create | Command | Send | Receive | Signal | Delete | wall (s) |")
        L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in win["rows"]:
            o = r["operations"]
            L.append(f"| {r['checks']} | {', '.join(str(x) for x in r['requests'])} | "
                     + " | ".join(str(o.get(k, 0)) for k in ["Create", "Command", "Send", "Receive", "Signal", "Delete"])
                     + f" | {r['wall']:.3f} |")
        L.append("")
        same = len({x for r in win["rows"] for x in r["requests"]}) == 1
        L.append(f"Target: WS-Man requests per run independent of the number of checks: "
                 f"**{'met' if same else 'not met'}**. Two of them are NTLM's authentication legs; "
                 "then one shell, one command, the whole PowerShell script in one Send, Receives "
                 "until the output ends (their number depends on how long the probes run, not on "
                 "how many there are), and the shell's deletion.\n")
    image_bench.write_md(L, res.get("image"))
    # Sections measured by hand (their heading says "by hand", with the command that produced
    # them) are not this script's to measure: keep them as they are.
    if path.exists():
        old = path.read_text()
        at = old.find("\n## ", 0)
        while at != -1:
            nxt = old.find("\n## ", at + 1)
            section = old[at + 1:nxt if nxt != -1 else len(old)]
            if "by hand" in section.splitlines()[0]:
                L.append(section.rstrip("\n") + "\n")
            at = nxt
    path.write_text("\n".join(L))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vmcert", required=True)
    ap.add_argument("--venv", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", choices=["single", "fleet", "report", "windows", "image"], action="append")
    a = ap.parse_args()
    runs = int(os.environ.get("BENCH_RUNS", "5"))
    fruns = int(os.environ.get("BENCH_FLEET_RUNS", "3"))
    sizes = [int(x) for x in os.environ.get("BENCH_FLEET_SIZES", "1 10 50 100").split()]
    rtts = [0.0] + [float(x) for x in os.environ.get("BENCH_RTT_MS", "30 80").split()]
    parts = a.only or ["single", "fleet", "report", "windows", "image"]
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
                res["single"] = single(a, work, runs, rtts)
                store.write_text(json.dumps(res, indent=1))
            if "fleet" in parts:
                res["fleet"], res["fleet_start_s"] = fleet(a, work, sizes, fruns, ["os-architecture"])
                res["fleet_runs"] = fruns
                store.write_text(json.dumps(res, indent=1))
            if "report" in parts:
                res["report"] = report_writing(a, work, runs)
                store.write_text(json.dumps(res, indent=1))
            if "windows" in parts:
                res["windows"] = windows(a, work, runs)
                store.write_text(json.dumps(res, indent=1))
            if "image" in parts:
                res["image"] = image_bench.image(a, work, runs)
                res["image"]["machine"] = machine()
                store.write_text(json.dumps(res, indent=1))
        finally:
            stop_all()
    res["machine"] = machine()
    store.write_text(json.dumps(res, indent=1))
    write_md(Path(a.out), res["machine"], res)
    print(Path(a.out).read_text())


if __name__ == "__main__":
    main()
