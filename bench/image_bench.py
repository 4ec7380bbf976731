"""The disk image checked offline (`vmcert run --image`), for bench/bench.py's `image` part.

Why: the promise of issue 14 is that reading the facts from the VHD itself takes well under a
second locally and a few MiB of ranged reads over a SAS URL, against minutes for boot + run.
Measured on tests/qemu's golden VHD (a 2 GiB fixed VHD, built here by build-image.sh): wall,
peak RSS of vmcert (wait4's ru_maxrss), and the bytes and reads vmcert's run log reports, from a
local file and from the same VHD uploaded to Azurite as a page blob (the SAS URL handed over in
an environment variable, as a publisher would). Boot + run is tests/qemu's measurement of the
same VHD booted under QEMU and certified over SSH.
"""

import base64
import hashlib
import hmac
import json
import os
import socket
import statistics
import subprocess
import time
import urllib.parse
import urllib.request
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "devstoreaccount1"
# Azurite's well-known account key (public, documented by Microsoft for the emulator).
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
SV = "2022-11-02"
BOOT_AND_RUN_S = 92.0


def _sign(sts: str) -> str:
    mac = hmac.new(base64.b64decode(KEY), sts.encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _container_sas(container: str, sp: str) -> str:
    st, se = _iso(datetime.now(timezone.utc) - timedelta(days=1)), _iso(datetime.now(timezone.utc) + timedelta(hours=2))
    sts = f"{sp}\n{st}\n{se}\n/blob/{ACCOUNT}/{container}\n\n\n\n{SV}\nc\n\n\n\n\n\n\n"
    q = urllib.parse.quote
    return f"sv={SV}&sr=c&sp={sp}&st={q(st, safe='')}&se={q(se, safe='')}&sig={q(_sign(sts), safe='')}"


def _put(url: str, headers: dict, body: bytes = b"") -> None:
    req = urllib.request.Request(url, data=body, method="PUT",
                                 headers={"x-ms-version": "2023-11-03", "Content-Length": str(len(body)), **headers})
    with urllib.request.urlopen(req) as r:
        r.read()


def _upload_page_blob(base: str, container: str, name: str, path: Path) -> None:
    sas = _container_sas(container, "racwd")
    # A container SAS cannot create its container: an account SAS (the owner's) does.
    se = _iso(datetime.now(timezone.utc) + timedelta(hours=2))
    acct = f"sv={SV}&ss=b&srt=sco&sp=racwdl&se={urllib.parse.quote(se, safe='')}&sig=" + urllib.parse.quote(
        _sign(f"{ACCOUNT}\nracwdl\nb\nsco\n\n{se}\n\n\n{SV}\n\n"), safe="")
    _put(f"{base}/{container}?restype=container&{acct}", {})
    size = path.stat().st_size
    _put(f"{base}/{container}/{name}?{sas}", {"x-ms-blob-type": "PageBlob", "x-ms-blob-content-length": str(size)})
    extents = json.loads(subprocess.run(["qemu-img", "map", "--output=json", "-f", "raw", str(path)],
                                        check=True, capture_output=True, text=True).stdout)
    with path.open("rb") as f:
        for e in extents:
            if not e["data"]:
                continue
            start, end = e["start"] // 512 * 512, min(size, -(-(e["start"] + e["length"]) // 512) * 512)
            at = start
            while at < end:
                n = min(4 << 20, end - at)
                f.seek(at)
                chunk = f.read(n)
                if chunk.strip(b"\0"):
                    _put(f"{base}/{container}/{name}?comp=page&{sas}",
                         {"x-ms-page-write": "update", "x-ms-range": f"bytes={at}-{at + n - 1}"}, chunk)
                at += n


def _run(vmcert: str, image: str, out: Path, env: dict) -> dict:
    t = time.monotonic()
    p = subprocess.Popen([vmcert, "run", "--image", image, "--non-interactive", "--allow-unanswered",
                          "--format", "json", "--out", str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **env})
    stdout, stderr = p.communicate()
    wall = time.monotonic() - t
    if p.returncode not in (0, 1):
        raise SystemExit(f"vmcert run --image failed ({p.returncode}): {stderr.decode()}")
    log = zipfile.ZipFile(out).read("logs/run.log").decode()
    line = next(l for l in log.splitlines() if " bytes read in " in l)
    w = line.split()
    i = w.index("bytes")
    return {"wall": wall, "bytes": int(w[i - 1]), "reads": int(w[i + 3]),
            "statuses": {c["id"]: c["status"] for c in json.loads(stdout)["checks"]}}


def _rss_kib(vmcert: str, image: str, out: Path, env: dict) -> int:
    """Peak RSS of one run, from wait4."""
    p = subprocess.Popen([vmcert, "run", "--image", image, "--non-interactive", "--allow-unanswered",
                          "--format", "json", "--out", str(out)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **env})
    _, _, ru = os.wait4(p.pid, 0)
    return ru.ru_maxrss


def image(a, work: Path, runs: int) -> dict:
    out_dir = work / "image-golden"
    b = subprocess.run(["bash", str(ROOT / "tests/qemu/build-image.sh"), "--out", str(out_dir), "golden"],
                       capture_output=True, text=True)
    if b.returncode != 0:
        raise SystemExit(f"build-image.sh golden failed:\n{b.stderr}")
    vhd = out_dir / "disk.vhd"
    res = {"vhd_bytes": vhd.stat().st_size, "runs": runs, "boot_and_run_s": BOOT_AND_RUN_S}
    local = [_run(a.vmcert, str(vhd), work / "l.zip", {}) for _ in range(runs)]
    res["local"] = {"wall": statistics.median(r["wall"] for r in local), "first_wall": local[0]["wall"],
                    "bytes": local[-1]["bytes"], "reads": local[-1]["reads"],
                    "rss_kib": max(_rss_kib(a.vmcert, str(vhd), work / "l.zip", {}) for _ in range(3))}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    st = subprocess.run(["bash", str(ROOT / "tests/lab/azurite.sh"), "start", str(port), str(os.getpid())],
                        capture_output=True, text=True)
    if st.returncode != 0:
        raise SystemExit(f"azurite.sh start failed:\n{st.stderr}")
    pid = st.stdout.strip()
    try:
        base = f"http://127.0.0.1:{port}/{ACCOUNT}"
        _upload_page_blob(base, "images", "golden.vhd", vhd)
        env = {"VMCERT_BENCH_IMAGE_URL": f"{base}/images/golden.vhd?{_container_sas('images', 'r')}"}
        remote = [_run(a.vmcert, "env:VMCERT_BENCH_IMAGE_URL", work / "r.zip", env) for _ in range(runs)]
        res["sas"] = {"wall": statistics.median(r["wall"] for r in remote),
                      "bytes": remote[-1]["bytes"], "reads": remote[-1]["reads"],
                      "rss_kib": max(_rss_kib(a.vmcert, "env:VMCERT_BENCH_IMAGE_URL", work / "r.zip", env)
                                     for _ in range(3)),
                      "same_verdicts": remote[-1]["statuses"] == local[-1]["statuses"]}
    finally:
        subprocess.run(["bash", str(ROOT / "tests/lab/azurite.sh"), "stop", pid], capture_output=True)
    return res


def _machine_text(m: dict) -> str:
    return (f"{m['nproc']} CPUs ({m['cpu']}), {m['mem']} memory, kernel {m['kernel']}; "
            f"{m['date']}; load average at the end {m['load'][0]:.2f}")


def write_md(L: list, r: dict) -> None:
    if not r:
        return
    lo, sa = r["local"], r["sas"]
    mib = lambda b: b / (1 << 20)
    L.append("## Disk image checked offline (`vmcert run --image`, golden VHD of tests/qemu)\n")
    L.append(f"`bash bench/run.sh --only image`: tests/qemu/build-image.sh builds the golden image "
             f"({mib(r['vhd_bytes']):.0f} MiB fixed VHD); `vmcert run --image disk.vhd` {r['runs']} times "
             "(median; the first run reads a cold page cache), then the same VHD as an Azurite page blob "
             "through `--image env:VAR` holding its SAS URL. Bytes and reads are vmcert's own counts "
             "for the run (run log; the HEAD and the few reads that learn the image's OS before it are "
             "not in them); peak RSS is wait4's maximum over 3 runs. Boot + run: tests/qemu's measurement of "
             "the same VHD booted under QEMU (TCG) and certified over SSH."
             + (f" This part was measured on {_machine_text(r['machine'])}." if r.get("machine") else "") + "\n")
    L.append("| source | wall (s) | read (MiB) | reads / requests | peak RSS (MiB) | vs boot + run |")
    L.append("|---|---:|---:|---:|---:|---:|")
    L.append(f"| local file | {lo['wall']:.3f} (first {lo['first_wall']:.3f}) | {mib(lo['bytes']):.1f} | "
             f"{lo['reads']} | {lo['rss_kib'] / 1024:.1f} | {r['boot_and_run_s'] / lo['wall']:.0f}x |")
    L.append(f"| SAS URL (Azurite) | {sa['wall']:.3f} | {mib(sa['bytes']):.1f} | {sa['reads']} | "
             f"{sa['rss_kib'] / 1024:.1f} | {r['boot_and_run_s'] / sa['wall']:.0f}x |")
    L.append(f"| boot + run (tests/qemu) | {r['boot_and_run_s']:.0f} | | | | 1x |")
    L.append("")
    ok = (lo["wall"] < 1 and mib(sa["bytes"]) <= 64 and sa["reads"] <= 400
          and max(lo["rss_kib"], sa["rss_kib"]) < 100 * 1024 and r["boot_and_run_s"] / max(lo["wall"], sa["wall"]) >= 20)
    L.append(f"Targets (local < 1 s for 2 GiB; SAS <= 64 MiB and <= 400 requests; peak RSS < 100 MiB; "
             f">= 20x faster than boot + run): **{'met' if ok else 'not met'}**. Same verdicts over SAS "
             f"as from the file: **{'yes' if sa['same_verdicts'] else 'NO'}**.\n")
