"""The handler that answers vmcert's PowerShell probe script from the machine profile.

Why this module exists: the agent's WinRM transport sends ONE script over the stdin of ONE
`powershell.exe -NoProfile -NonInteractive -Command -` (agent/src/target/script/powershell.rs
and script.ps1). No PowerShell runs here, so this handler plays, in order:

1. Windows PowerShell 5.1's console host reading `-Command -` (`console_host_51`): it reads stdin
   itself, line by line, through its own buffered reader (PowerShell PR #2336, `#if !CORECLR`)
   whose first read takes up to 4 KB, and runs each line as a statement. So a line that reads
   `[Console]::In` (vmcert's loader before issue 15) gets stdin without its first 4 KB: the
   body does not parse and no frame ever comes, as on a real Server 2019 or later. The loader's
   one-line statements (`$VmB = New-Object System.Text.StringBuilder`, `[void]$VmB.Append(..)`
   and the check line) are played: the body runs only if its length, SHA-256 and begin and end
   markers are right, else the check line's `fatal` frame is printed.
2. the probe script itself: it recognizes the probe table (`@{ Index = N; Id = '..'; Timeout =
   S; Cap = B; Admin = $x; Code = '<base64>' }`), answers each probe of the Windows catalogue
   (checks/src/windows/probes.rs) from the profile in exactly the JSON that Windows PowerShell
   5.1's `ConvertTo-Json -Compress` prints for that fragment (the shapes of
   checks/tests/fixtures/windows), and writes the frames the script would write, when it would
   write them: after a PowerShell start-up, `lanes` probes at a time in table order, a probe
   with `After = K` only once probe K has ended (later probes taking the free lanes meanwhile),
   each taking a realistic time, a probe that outlives its timeout reported as timed out.
   `Get-WindowsFeature` run while the Windows Update search runs fails (see
   `SERVICING_BUSY`), so a script that lets the two overlap loses the feature checks. Where real Windows differs
   from a naive reading, it is adversarial: an error a fragment suppresses still sets
   `HadErrors` (PowerShell#4613), so a script taking rc from `HadErrors` gets rc 1; a second
   local administrator (RID other than 500, without LocalAccountTokenFilterPolicy = 1) holds a
   UAC-filtered token over WinRM (not elevated, Administrators deny-only); one unreadable scheduled task fails a fragment that
   lists tasks with `-ErrorAction Stop`.

Anything else (other programs, other scripts) goes to the default handler.

Knobs, in the profile's optional `vmcert_handler` object:
  startup_seconds  powershell.exe start and runspace pool open (default 0.7)
  timing_scale     multiplies every probe's duration (default 1.0; 0 = every probe at start-up)
  hang             probe ids that never finish, so the script's per-probe timeout fires
  pid              the process id the start frame reports (default 4242)
  stdout_bom       true: stdout starts with a UTF-8 byte-order mark, as .NET Framework writes
                   the preamble of a UTF-8 console encoding before the first output
  update_search_seconds  how long the Windows Update search takes (default 3.5; minutes on a
                   fresh VM, which `windows-fresh-vm` profiles set through timing)
  extra_services / extra_tasks  that many more generated services and scheduled tasks (a real
                   VM has ~200 and ~150), to test volume
  forge            a hostile probe (or a process it leaves behind) writing to the script's stdout:
                   a list of {"during": ID, "for": ID, "stdout": TEXT, "after_end": BOOL,
                   "hide_real": BOOL}. While probe `during` runs (or just after its own frame with
                   `after_end`), a frame for probe `for` with rc 0 and TEXT as its output is
                   written, as the forger can: it knows everything the script text holds (the
                   nonce, the frame format) but not what never reaches a statement or the
                   probes (the frame key). `hide_real` then writes a partial line just before the
                   real frame of `for`, so that frame no longer starts a line.
Which profile fields each probe reads is tables in tests/winrm/README.md ("What the Windows
probes read from the profile"); this module follows it. One addition: `os.product_type` 1 (a
client edition) has no Get-WindowsFeature, and always the BitLocker module.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from . import default_handler
from .machine import Invocation, Output, Result

TABLE_ROW = re.compile(
    r"^@\{ Index = (\d+); Id = '([a-z0-9._-]+)'; Timeout = (\d+); Cap = (\d+); "
    r"Admin = \$(true|false); After = (-1|\d+); Code = '([A-Za-z0-9+/=]*)' \}$"
)
NONCE = re.compile(r"^\$VmMarker = '#vmcert:' \+ '([0-9a-f]{32})' \+ ':'$", re.M)
LANES = re.compile(r"^\$VmLanes = (\d+)$", re.M)
KEY_VAR = re.compile(r"^\$VmKeyHex = \[Environment\]::GetEnvironmentVariable\('([A-Z_]+)', 'Process'\)$", re.M)
FRAME_KEY = re.compile(r"^[0-9a-f]{64}$")
# What a forger writes as an HMAC: it never sees the frame key, so it makes one up.
FORGER_KEY = b"a key the forger made up".ljust(32, b"\0")
SB_NEW = "$VmB = New-Object System.Text.StringBuilder"
SB_APPEND = re.compile(r"^\[void\]\$VmB\.Append\('([A-Za-z0-9+/=]*)'\)$")
CHECK_LEN = re.compile(r"\$VmBytes\.Length -ne (\d+)\)")
CHECK_SHA = re.compile(r"\$VmSha -ne '([0-9A-F]{64})'")
CHECK_BEGIN = re.compile(r"StartsWith\('#vmcert-begin:'\+'([0-9a-f]{32})'\)")
OLD_LOADER_END = re.compile(r"'#vmcert-end:'\+'([0-9a-f]{32})'")
LATFP_KEY = "HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System"
AU_KEY = "HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\WindowsUpdate\\AU"
# NoAutoUpdate as Azure writes it at deployment, per patch mode (azure-docs, automatic VM guest
# patching): whatever the image held.
AZURE_NO_AUTO_UPDATE = {"AutomaticByPlatform": 1, "Manual": 1, "AutomaticByOS": 0}
# The first read of 5.1's own stdin reader (a FileStream's buffer): what [Console]::In never sees.
HOST_BUFFER = 4096
DRIVE_PATH = re.compile(r"[A-Za-z]:[\\/]")
# Both go through the servicing stack (TrustedInstaller). On a real fresh VM a feature query
# beside the first update search is slowed for as long as the search holds it, often past its
# timeout (research/windows-real.md); the model makes any overlap a failure, so an e2e run
# shows whether the script kept them apart.
SERVICING_PAIR = ("windows-features", "pending-updates")
SERVICING_BUSY = (
    "Get-WindowsFeature : vmcert test machine: the servicing stack is busy with the Windows Update "
    "search (windows-features ran while pending-updates was running)\n"
)


def create_handler(machine: dict) -> VmcertHandler:
    """The handler entry point (see machine.py)."""
    return VmcertHandler(machine)


# ---- Windows PowerShell 5.1 ConvertTo-Json -Compress ----------------------------------------


@dataclass(frozen=True)
class PsDate:
    """A DateTime, which 5.1's ConvertTo-Json prints as "\\/Date(<ms since 1970>)\\/"."""

    iso_day: str

    def millis(self) -> int:
        d = datetime.strptime(self.iso_day, "%Y-%m-%d").replace(tzinfo=timezone.utc)
        return int(d.timestamp() * 1000)


def _prepare(v):
    if isinstance(v, PsDate):
        return f"\x00DATE:{v.millis()}"
    if isinstance(v, dict):
        return {k: _prepare(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_prepare(x) for x in v]
    return v


def ps_json(value) -> str:
    """JSON as 5.1's ConvertTo-Json -Compress writes it: no spaces, non-ASCII kept, the
    JavaScriptSerializer escapes for < > & ' and dates as \\/Date(ms)\\/."""
    text = json.dumps(_prepare(value), separators=(",", ":"), ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        text = text.replace(ch, esc)
    return re.sub(r'"\\u0000DATE:(\d+)"', r'"\\/Date(\1)\\/"', text)


def ps_rows(rows: list) -> str:
    """A pipeline of rows into ConvertTo-Json: nothing, a bare object, or an array."""
    if not rows:
        return ""
    return ps_json(rows[0] if len(rows) == 1 else rows)


# ---- the probe script ----------------------------------------------------------------------


@dataclass(frozen=True)
class ScriptProbe:
    index: int
    id: str
    timeout: int
    cap: int
    admin: bool
    after: int
    """The index of the probe this one waits for (-1: none)."""
    code: str


@dataclass(frozen=True)
class Script:
    nonce: str
    lanes: int
    probes: tuple[ScriptProbe, ...]
    rc_from_had_errors: bool = False
    """The script takes rc from `HadErrors`, which suppressed errors set too."""
    key_var: str | None = None
    """The environment variable the script reads its frame key from (None: frames carry no
    HMAC, the script before issue 17)."""


def parse_body(body: str) -> Script:
    """The probe script body (script.ps1 with its table), as the check line hands it over."""
    nonce_m = NONCE.search(body)
    lanes_m = LANES.search(body)
    if not nonce_m or not lanes_m:
        raise ValueError("vmcert probe script without its marker or lane count")
    nonce = nonce_m.group(1)
    probes = []
    for line in body.splitlines():
        row = TABLE_ROW.match(line.strip())
        if row:
            probes.append(
                ScriptProbe(
                    index=int(row.group(1)),
                    id=row.group(2),
                    timeout=int(row.group(3)),
                    cap=int(row.group(4)),
                    admin=row.group(5) == "true",
                    after=int(row.group(6)),
                    code=base64.b64decode(row.group(7)).decode("utf-8"),
                )
            )
    key_m = KEY_VAR.search(body)
    return Script(
        nonce, int(lanes_m.group(1)), tuple(probes), ".HadErrors" in body, key_m.group(1) if key_m else None
    )


@dataclass(frozen=True)
class HostRun:
    """What 5.1's console host did with stdin: a body to play, or what it printed instead."""

    script: Script | None = None
    stdout: str = ""
    stderr: str = ""


def parse_error(detail: str) -> str:
    return (
        'Exception calling "Create" with "1" argument(s): "At line:1 char:1\n'
        f"{detail}\"\n"
        "At line:1 char:1\n"
        "    + CategoryInfo          : NotSpecified: (:) [], MethodInvocationException\n"
        "    + FullyQualifiedErrorId : ParseException\n"
    )


def console_host_51(stdin: bytes) -> HostRun | None:
    """Plays `powershell.exe -Command -` of Windows PowerShell 5.1 on `stdin`, for the
    statements of vmcert's loaders; None when stdin is not vmcert's."""
    text = stdin.decode("utf-8", errors="replace").removeprefix("\ufeff")
    lines = [ln.removesuffix("\r") for ln in text.split("\n")]
    sb: list[str] | None = None
    seen = False
    stderr = ""
    for line in lines:
        if "[Console]::In" in line:
            # The host's reader already holds up to 4 KB of stdin: [Console]::In starts after.
            m = OLD_LOADER_END.search(line)
            if not m:
                return None
            rest = stdin[min(len(stdin), HOST_BUFFER) :].decode("utf-8", errors="replace")
            if f"#vmcert-end:{m.group(1)}" not in rest:
                fatal = f'#vmcert:{m.group(1)}:fatal {{"error":"the script did not arrive whole on stdin"}}\n'
                return HostRun(stdout=fatal)
            # The head of the body went to the host's buffer: [ScriptBlock]::Create throws.
            return HostRun(stderr=parse_error("Missing closing '}' in statement block or type definition."))
        if line == "":
            continue
        if line == SB_NEW:
            sb, seen = [], True
            continue
        append = SB_APPEND.match(line)
        if append and seen:
            sb.append(append.group(1))
            continue
        if line.startswith("$VmWhy=''") and seen:
            return check_line(line, "".join(sb), stderr)
        if not seen:
            return None
        stderr += f"The term '{line[:40]}' is not recognized as the name of a cmdlet.\n"
    return HostRun(stderr=stderr) if seen else None


def check_line(line: str, b64: str, stderr: str) -> HostRun:
    """The loader's check line: run the body only if it arrived exactly as sent."""
    want_len = int(CHECK_LEN.search(line).group(1))
    want_sha = CHECK_SHA.search(line).group(1)
    nonce = CHECK_BEGIN.search(line).group(1)
    why = ""
    try:
        data = base64.b64decode(b64, validate=True)
    except ValueError:
        data, why = b"", "not decodable"
    body = data.decode("utf-8", errors="replace").lstrip("\ufeff")
    if why:
        pass
    elif len(data) != want_len:
        why = f"length {len(data)} instead of {want_len}"
    elif hashlib.sha256(data).hexdigest().upper() != want_sha:
        why = "SHA-256 mismatch"
    elif not body.startswith(f"#vmcert-begin:{nonce}"):
        why = "no begin marker"
    elif not body.rstrip().endswith(f"#vmcert-end:{nonce}"):
        why = "no end marker"
    if why:
        fatal = f'#vmcert:{nonce}:fatal {{"error":"the script did not arrive whole on stdin: {why}"}}\n'
        return HostRun(stdout=fatal, stderr=stderr)
    return HostRun(script=parse_body(body), stderr=stderr)


@dataclass(frozen=True)
class Answer:
    """What one probe prints (stdout as the fragment's text output), its status and its time."""

    stdout: str = ""
    stderr: str = ""
    rc: int = 0
    seconds: float = 0.1
    suppressed_errors: bool = False
    """The fragment wrote an error it suppressed (`-ErrorAction SilentlyContinue`, a caught
    one): nothing in Streams.Error, but HadErrors set."""


def command_not_found(name: str, code: str) -> Answer:
    """Windows PowerShell 5.1's CommandNotFoundException record, as Out-String shows it."""
    first = code.splitlines()[0] if code else name
    shown = first if len(first) <= 70 else first[:67] + " ..."
    err = (
        f"{name} : The term '{name}' is not recognized as the name of a cmdlet, function, script file, "
        "or operable program. Check the spelling of the name, or if a path was included, verify that "
        "the path is correct and try again.\n"
        "At line:1 char:33\n"
        f"+ $ErrorActionPreference = 'Stop'; {shown}\n"
        "+                                 " + "~" * len(name) + "\n"
        f"    + CategoryInfo          : ObjectNotFound: ({name}:String) [], CommandNotFoundException\n"
        "    + FullyQualifiedErrorId : CommandNotFoundException\n"
    )
    return Answer(stderr=err, rc=1, seconds=0.05)


class VmcertHandler:
    """Plays vmcert's probe script against the machine profile; delegates everything else."""

    def __init__(self, machine: dict):
        self.m = machine
        self.default = default_handler.DefaultHandler(machine)
        self.knobs = machine.get("vmcert_handler", {})

    # ---- handler interface --------------------------------------------------------------

    def reads_stdin(self, inv: Invocation) -> bool:
        return self.default.reads_stdin(inv)

    def run(self, inv: Invocation) -> Result:
        host = console_host_51(inv.stdin) if inv.stdin else None
        if host is None:
            return self.default.run(inv)
        if host.script is None:
            outputs = [Output(stream, data, 0.3) for stream, data in (("stdout", host.stdout), ("stderr", host.stderr)) if data]
            return Result(0 if host.stdout else 1, tuple(outputs), 0.35)
        return self.play(host.script, inv, host.stderr)

    # ---- the account --------------------------------------------------------------------

    def account(self, login: str) -> dict | None:
        name = login.split("\\")[-1].split("@")[0].lower()
        for u in self.m.get("local_users", []):
            if u["name"].lower() == name:
                return u
        return None

    def is_admin(self, login: str) -> bool:
        """Member of Administrators (whatever its token over WinRM)."""
        u = self.account(login)
        return bool(u) and "Administrators" in u.get("groups", [])

    def is_filtered(self, login: str) -> bool:
        """A local administrator other than the built-in one (RID 500) logging on over the
        network to a workgroup machine gets a UAC-filtered token (not elevated, Administrators
        deny-only), unless LocalAccountTokenFilterPolicy is 1 (Microsoft, "User Account Control
        and remote restrictions")."""
        u = self.account(login)
        return (
            self.is_admin(login)
            and int(u.get("rid", 0)) != 500
            and self.reg(LATFP_KEY, "LocalAccountTokenFilterPolicy") != 1
        )

    def is_elevated(self, login: str) -> bool:
        return self.is_admin(login) and not self.is_filtered(login)

    # ---- playing the script -------------------------------------------------------------

    def play(self, script: Script, inv: Invocation, host_stderr: str = "") -> Result:
        mark = f"#vmcert:{script.nonce}:"
        key = None
        if script.key_var is not None:
            # The shell's environment (rsp:Environment at Create), as the script reads it.
            hex_key = inv.environment.get(script.key_var, "")
            if not FRAME_KEY.match(hex_key):
                fatal = mark + 'fatal {"error":"no frame key in the environment (%s)"}\n' % script.key_var
                return Result(0, (Output("stdout", fatal, 0.5),), 0.55)
            key = bytes.fromhex(hex_key)
        startup = float(self.knobs.get("startup_seconds", 0.7))
        scale = float(self.knobs.get("timing_scale", 1.0))
        hang = set(self.knobs.get("hang", []))
        admin = self.is_elevated(inv.user)
        ps_version = self.m["os"].get("powershell_version", "5.1.17763.6054")
        start = {
            "n": len(script.probes),
            "lanes": script.lanes,
            "ps": ps_version,
            "admin": admin,
            "filtered": self.is_filtered(inv.user),
            "pid": int(self.knobs.get("pid", 4242)),
        }
        bom = "\ufeff" if self.knobs.get("stdout_bom") else ""
        outputs = [Output("stdout", bom + self.line(mark, "start", json.dumps(start, separators=(",", ":")), key), startup)]
        if host_stderr:
            outputs.insert(0, Output("stderr", host_stderr, 0.05))
        # The script's scheduler, in simulated time: at each moment, in table order, every probe
        # a lane is free for and whose After probe has ended starts; then time moves to the next
        # probe's end. `spans` records when each probe ran, to find overlaps.
        lanes = max(1, script.lanes)
        waiting = list(script.probes)
        # (end, index, probe, its answer or None when it did not run, began, ms it ran)
        running: list[tuple[float, int, ScriptProbe, Answer | None, float, int]] = []
        ended: set[int] = set()
        spans: dict[str, tuple[float, float]] = {}
        finished = []
        now = startup
        while waiting or running:
            for p in list(waiting):
                if len(running) >= lanes:
                    break
                if p.after >= 0 and p.after not in ended:
                    continue
                waiting.remove(p)
                if p.admin and not admin:
                    running.append((now, p.index, p, None, now, 0))
                    continue
                ans = self.answer(p, inv.user)
                took = ans.seconds * scale
                if p.id in hang or took >= p.timeout:
                    end, ms = now + p.timeout + 0.02, int((p.timeout + 0.02) * 1000)
                else:
                    end, ms = now + took, int(took * 1000)
                running.append((end, p.index, p, ans, now, ms))
                spans[p.id] = (now, end)
            if not running:
                # Only a script whose probes wait for one another in a circle gets here (vmcert
                # refuses to write one): what never starts never reports.
                break
            running.sort(key=lambda r: (r[0], r[1]))
            end, index, p, ans, began, ms = running.pop(0)
            now = max(now, end)
            ended.add(index)
            if ans is None:
                why = (
                    "needs an administrator: the account is a member of Administrators but its token over WinRM is UAC-filtered (not elevated)"
                    if start["filtered"]
                    else "needs an administrator: the account is not an elevated member of Administrators"
                )
                frame = self.frame(p, None, 0, False, "", "", why)
            elif end - began >= p.timeout:
                frame = self.frame(p, None, ms, True, "", "", None)
            elif p.id == SERVICING_PAIR[0] and self.overlaps(spans, *SERVICING_PAIR):
                frame = self.frame(p, 1, ms, False, "", SERVICING_BUSY, None)
            else:
                # HadErrors is also set by the errors a fragment suppressed (PowerShell#4613).
                rc = 1 if ans.suppressed_errors and script.rc_from_had_errors else ans.rc
                frame = self.frame(p, rc, ms, False, ans.stdout, ans.stderr, None)
            finished.append((end, p.index, frame))
        finished.sort()
        last = startup
        ends: dict[int, float] = {}
        for end, index, frame in finished:
            outputs.append(Output("stdout", self.line(mark, "probe", frame, key), end))
            ends[index] = end
            last = max(last, end)
        outputs.extend(self.forgeries(script, mark, spans, ends, key))
        # `done` and the exit follow the last probe; with timing_scale 0 at the same instant, so
        # that one Receive gets everything whatever the host's load (the request-count tests).
        tail = last + (0.01 if scale > 0 else 0.0)
        outputs.append(Output("stdout", self.line(mark, "done", '{"n":%d}' % len(script.probes), key), tail))
        return Result(0, tuple(outputs), tail)

    def forgeries(self, script: Script, mark: str, spans, ends: dict[int, float], key: bytes | None) -> list[Output]:
        """The `forge` knob: frames a hostile probe writes, and partial lines that glue the real
        frame of the forged probe to them."""
        by_id = {p.id: p for p in script.probes}
        out = []
        for f in self.knobs.get("forge", []):
            during, victim = by_id[f["during"]], by_id[f["for"]]
            if f.get("after_end"):
                at = ends[during.index] + 0.001
            else:
                at = spans.get(during.id, (ends[during.index], 0))[0] + 0.001
            frame = self.frame(victim, 0, 5, False, f.get("stdout", ""), "", None)
            forger = FORGER_KEY if key is not None else None
            out.append(Output("stdout", self.line(mark, "probe", frame, forger), at))
            if f.get("hide_real"):
                out.append(Output("stdout", "x", ends[victim.index] - 0.0005))
        return out

    @staticmethod
    def line(mark: str, kind: str, body: str, key: bytes | None) -> str:
        """One frame line: with a key, the HMAC-SHA256 of "<kind> <json>" before the JSON."""
        if key is None:
            return f"{mark}{kind} {body}\n"
        mac = hmac.new(key, f"{kind} {body}".encode("utf-8"), hashlib.sha256).hexdigest()
        return f"{mark}{kind} {mac} {body}\n"

    @staticmethod
    def overlaps(spans: dict[str, tuple[float, float]], a: str, b: str) -> bool:
        """Whether probes `a` and `b` both ran and their runs overlapped."""
        if a not in spans or b not in spans:
            return False
        (a0, a1), (b0, b1) = spans[a], spans[b]
        return a0 < b1 and b0 < a1

    @staticmethod
    def frame(p: ScriptProbe, rc, ms: int, timed_out: bool, stdout: str, stderr: str, error) -> str:
        def cut(text: str) -> tuple[str, bool]:
            data = text.encode("utf-8")
            return base64.b64encode(data[: p.cap]).decode("ascii"), len(data) > p.cap

        out, t1 = cut(stdout)
        err, t2 = cut(stderr)
        # The script's own escaping: every character outside printable ASCII as \uXXXX.
        return json.dumps(
            {
                "i": p.index,
                "id": p.id,
                "rc": rc,
                "ms": ms,
                "timed_out": timed_out,
                "truncated": t1 or t2,
                "error": error,
                "stdout_b64": out,
                "stderr_b64": err,
            },
            separators=(",", ":"),
            ensure_ascii=True,
        )

    # ---- the probes ---------------------------------------------------------------------

    def answer(self, p: ScriptProbe, login: str) -> Answer:
        probe = getattr(self, "probe_" + p.id.replace("-", "_"), None)
        if probe is None:
            return Answer(
                stderr=f"vmcert test machine: the vmcert handler does not emulate probe `{p.id}`\n",
                rc=1,
                seconds=0.05,
            )
        return probe(p.code, login)

    def reg(self, path: str, name: str):
        for r in self.m.get("registry", []):
            if r["path"].lower() == path.lower() and r["name"].lower() == name.lower():
                return r["value"]
        return None

    def reg_key_exists(self, path: str) -> bool:
        return any(r["path"].lower() == path.lower() for r in self.m.get("registry", []))

    def file(self, path: str) -> dict | None:
        for f in self.m.get("files", []):
            if f["path"].lower() == path.lower():
                return f if f.get("exists", True) else None
        return None

    def windir(self) -> str:
        return self.m["os"].get("windows_directory", "C:\\Windows")

    def feature_installed(self, name: str) -> bool:
        return any(f["name"] == name and f["install_state"] == "Installed" for f in self.m["features"])

    def is_server(self) -> bool:
        return int(self.m["os"].get("product_type", 3)) != 1

    def probe_os_info(self, code: str, login: str) -> Answer:
        os_ = self.m["os"]
        host = self.m["hostname"]
        return Answer(
            ps_json(
                {
                    "Caption": os_["caption"],
                    "Version": os_["version"],
                    "BuildNumber": os_["build_number"],
                    "OSArchitecture": os_["os_architecture"],
                    # The NetBIOS name: upper case, at most 15 characters.
                    "CSName": host.upper()[:15],
                    "Hostname": host,
                }
            )
            + "\n",
            seconds=0.18,
        )

    def probe_windows_features(self, code: str, login: str) -> Answer:
        if not self.is_server():
            return command_not_found("Get-WindowsFeature", code)
        names_part = code.split("-Name", 1)[1].split("-ErrorAction", 1)[0]
        asked = set(re.findall(r"'([A-Za-z0-9-]+)'", names_part))
        rows = [
            {"Name": f["name"], "DisplayName": f["display_name"], "InstallState": f["install_state"]}
            for f in self.m["features"]
            if f["name"] in asked
        ]
        return Answer(ps_rows(rows) + ("\n" if rows else ""), seconds=2.2)

    def probe_current_user(self, code: str, login: str) -> Answer:
        u = self.account(login)
        if u is None:
            raise ValueError(f"the profile has no local user for the login {login!r}")
        doc = {
            "Name": f"{self.m['hostname']}\\{u['name']}",
            "Sid": u["sid"],
            "IsAdministrator": self.is_elevated(login),
            "AdministratorsDenyOnly": self.is_filtered(login),
            "BuiltinAdministrator": int(u.get("rid", 0)) == 500,
            "LocalAccountTokenFilterPolicy": self.reg(LATFP_KEY, "LocalAccountTokenFilterPolicy"),
        }
        return Answer(ps_json(doc) + "\n", seconds=0.04)

    def probe_ipv6_addresses(self, code: str, login: str) -> Answer:
        rows = []
        for a in self.m["network"].get("adapters", []):
            for addr in a.get("ipv6_addresses", []):
                rows.append(
                    {
                        "InterfaceAlias": a["name"],
                        "IPAddress": addr["address"],
                        "PrefixLength": addr.get("prefix_length", 64),
                        "PrefixOrigin": addr.get("prefix_origin", "Manual"),
                        "SuffixOrigin": addr.get("suffix_origin", "Manual"),
                        "AddressState": "Preferred",
                    }
                )
            if a.get("ipv6_link_local"):
                rows.append(
                    {
                        "InterfaceAlias": a["name"],
                        "IPAddress": a["ipv6_link_local"],
                        "PrefixLength": 64,
                        "PrefixOrigin": "WellKnown",
                        "SuffixOrigin": "Link",
                        "AddressState": "Preferred",
                    }
                )
        rows.append(
            {
                "InterfaceAlias": "Loopback Pseudo-Interface 1",
                "IPAddress": "::1",
                "PrefixLength": 128,
                "PrefixOrigin": "WellKnown",
                "SuffixOrigin": "WellKnown",
                "AddressState": "Preferred",
            }
        )
        return Answer(ps_rows(rows) + "\n", seconds=0.35)

    def probe_bitlocker_os_volume(self, code: str, login: str) -> Answer:
        mount = self.m["os"].get("system_drive", "C:")
        # Servers have the BitLocker module only with the BitLocker feature; client editions
        # (product type 1) always have it.
        if self.is_server() and not self.feature_installed("BitLocker"):
            # A fragment that looks for the cmdlet with -ErrorAction SilentlyContinue wrote a
            # CommandNotFound error it suppressed: HadErrors is set.
            return Answer(
                ps_json({"MountPoint": mount, "BitLockerAvailable": False}) + "\n",
                seconds=0.08,
                suppressed_errors="SilentlyContinue" in code,
            )
        vol = next(v for v in self.m["volumes"] if v["drive_letter"] + ":" == mount)
        bl = vol["bitlocker"]
        return Answer(
            ps_json(
                {
                    "MountPoint": mount,
                    "BitLockerAvailable": True,
                    "VolumeType": "OperatingSystem",
                    "VolumeStatus": bl["volume_status"],
                    "ProtectionStatus": bl["protection_status"],
                    "EncryptionPercentage": bl["encryption_percentage"],
                }
            )
            + "\n",
            seconds=0.6,
        )

    def probe_setup_state(self, code: str, login: str) -> Answer:
        sysprep = "HKLM:\\SYSTEM\\Setup\\Status\\SysprepStatus"
        state = "HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Setup\\State"
        logs = []
        for rel in ("System32\\Sysprep\\Panther\\setupact.log", "Panther\\setupact.log"):
            path = self.windir() + "\\" + rel
            f = self.file(path)
            lines = list(f.get("generalize_lines", [])) if f else []
            logs.append(
                {
                    "Path": path,
                    "Exists": f is not None,
                    "GeneralizeLineCount": len(lines),
                    "GeneralizeLines": lines[-20:],
                }
            )
        doc = {
            "GeneralizationState": self.reg(sysprep, "GeneralizationState"),
            "CleanupState": self.reg(sysprep, "CleanupState"),
            "ImageState": self.reg(state, "ImageState"),
            "SysprepSucceededTag": self.file(self.windir() + "\\System32\\Sysprep\\Sysprep_succeeded.tag") is not None,
            "Logs": logs,
        }
        return Answer(ps_json(doc) + "\n", seconds=0.4)

    def probe_pending_updates(self, code: str, login: str) -> Answer:
        error = self.m.get("windows_update_search_error")
        if error:
            dated = [h for h in self.m["hotfixes"] if h.get("installed_on")]
            newest = max(dated, key=lambda h: h["installed_on"], default=None)
            doc = {
                "SearchSucceeded": False,
                "SearchError": error,
                "NewestHotFixID": newest["hotfix_id"] if newest else None,
                "NewestHotFixInstalledOn": PsDate(newest["installed_on"]) if newest else None,
            }
            return Answer(ps_json(doc) + "\n", seconds=1.2)
        updates = [
            {
                "Title": u["title"],
                "MsrcSeverity": u.get("msrc_severity"),
                "KBArticleIDs": [u["kb"].removeprefix("KB")],
            }
            for u in self.m["pending_updates"]
        ]
        doc = {"SearchSucceeded": True, "ResultCode": 2, "Updates": updates}
        return Answer(ps_json(doc) + "\n", seconds=float(self.knobs.get("update_search_seconds", 3.5)))

    def probe_drives_and_references(self, code: str, login: str) -> Answer:
        drive_type = {"Removable": 2, "Fixed": 3, "Network": 4, "CD-ROM": 5}
        drives = [
            {
                "DeviceID": v["drive_letter"] + ":",
                "DriveType": drive_type.get(v.get("drive_type", "Fixed"), 3),
                "VolumeName": v.get("label"),
            }
            for v in sorted(self.m["volumes"], key=lambda v: v["drive_letter"])
            if v.get("drive_letter")
        ]
        services = [
            {"Name": s["name"], "PathName": s["path"]}
            for s in sorted(self.all_services(), key=lambda s: s["name"].lower())
            if DRIVE_PATH.search(s.get("path", ""))
        ]
        actions = []
        unreadable = []
        for t in self.all_tasks():
            if t.get("unreadable"):
                why = "The task XML contains a value which is incorrectly formatted or out of range."
                if "Get-ScheduledTask -ErrorAction Stop" in code:
                    # The whole listing stops at the first bad task.
                    return Answer(
                        stderr=f"Get-ScheduledTask : {why}\n    + CategoryInfo          : NotSpecified: (MSFT_ScheduledTask:Root/Microsoft/...T_ScheduledTask) [Get-ScheduledTask], CimException\n",
                        rc=1,
                        seconds=1.1,
                    )
                unreadable.append(why)
                continue
            for a in t.get("actions", []):
                line = "{} {} {}".format(a.get("execute") or "", a.get("arguments") or "", a.get("working_directory") or "")
                if DRIVE_PATH.search(line):
                    actions.append(
                        {
                            "TaskPath": t["path"],
                            "TaskName": t["name"],
                            "Execute": a.get("execute"),
                            "Arguments": a.get("arguments"),
                            "WorkingDirectory": a.get("working_directory"),
                        }
                    )
        doc = {"Drives": drives, "Services": services, "TaskActions": actions}
        if "UnreadableTasks" in code:
            doc["UnreadableTasks"] = unreadable
        doc["SystemPath"] = self.m.get("system_path")
        return Answer(ps_json(doc) + "\n", seconds=1.6 + 0.004 * len(self.all_tasks()), suppressed_errors=bool(unreadable))

    def all_services(self) -> list[dict]:
        """The profile's services, plus `extra_services` generated ordinary ones."""
        extra = [
            {
                "name": f"VmGenSvc{n:03d}",
                "display_name": f"Generated service {n}",
                "status": "Running" if n % 3 else "Stopped",
                "start_type": "Automatic" if n % 2 else "Manual",
                "path": f"C:\\Windows\\system32\\svchost.exe -k gen{n}",
            }
            for n in range(int(self.knobs.get("extra_services", 0)))
        ]
        return list(self.m["services"]) + extra

    def all_tasks(self) -> list[dict]:
        """The profile's scheduled tasks, plus `extra_tasks` generated ordinary ones."""
        extra = [
            {
                "path": "\\Microsoft\\Windows\\Generated\\",
                "name": f"Task{n:03d}",
                "actions": [{"execute": "%windir%\\system32\\rundll32.exe", "arguments": f"gen.dll,Run {n}"}],
            }
            for n in range(int(self.knobs.get("extra_tasks", 0)))
        ]
        return list(self.m.get("scheduled_tasks", [])) + extra

    def service_rows(self, pick, fields) -> list[dict]:
        start_mode = {"Automatic": "Auto", "Manual": "Manual", "Disabled": "Disabled"}
        rows = []
        for s in sorted(self.all_services(), key=lambda s: s["name"].lower()):
            if pick(s["name"]):
                full = {
                    "Name": s["name"],
                    "DisplayName": s.get("display_name"),
                    "State": s["status"],
                    "StartMode": start_mode.get(s["start_type"], s["start_type"]),
                    "PathName": s.get("path"),
                }
                rows.append({k: full[k] for k in fields})
        return rows

    def probe_azure_agent_services(self, code: str, login: str) -> Answer:
        rows = self.service_rows(
            lambda n: n in ("WindowsAzureGuestAgent", "RdAgent"), ("Name", "State", "StartMode", "PathName")
        )
        return Answer(ps_rows(rows) + ("\n" if rows else ""), seconds=0.25)

    def probe_sql_services(self, code: str, login: str) -> Answer:
        rows = self.service_rows(
            lambda n: n.upper().startswith("MSSQL"), ("Name", "DisplayName", "State", "StartMode")
        )
        return Answer(ps_rows(rows) + ("\n" if rows else ""), seconds=0.2)

    def probe_rdp_settings(self, code: str, login: str) -> Answer:
        ts = "HKLM:\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server"
        # The fragment selects Get-NetFirewallRule rows by the group's language-independent name
        # and, with -like 'RemoteDesktop-*', the WebSocket group's rules; older fragments print
        # no group.
        with_group = "DisplayGroup" in code
        rules = []
        for g in self.m.get("firewall_rule_groups", []):
            for r in g.get("rules", []):
                if g.get("group") == "@FirewallAPI.dll,-28752" or (with_group and r["name"].startswith("RemoteDesktop-")):
                    row = {"Name": r["name"], "DisplayName": r["display_name"]}
                    if with_group:
                        row["Group"] = g.get("group")
                        row["DisplayGroup"] = g.get("display_group")
                    row["Enabled"] = "True" if r["enabled"] else "False"
                    row["Direction"] = r["direction"]
                    rules.append(row)
        doc = {
            "fDenyTSConnections": self.reg(ts, "fDenyTSConnections"),
            "PolicyDenyTSConnections": self.reg(
                "HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows NT\\Terminal Services", "fDenyTSConnections"
            ),
            "PortNumber": self.reg(ts + "\\WinStations\\RDP-Tcp", "PortNumber"),
            "FirewallRules": rules,
        }
        return Answer(ps_json(doc) + "\n", seconds=0.9)

    def probe_os_disk(self, code: str, login: str) -> Answer:
        # The disk of the system drive's partition: the boot disk (Azure's OS disk), whatever its
        # number.
        d = next((d for d in self.m["disks"] if d.get("is_boot")), self.m["disks"][0])
        doc = {
            "Number": d["number"],
            "FriendlyName": d["friendly_name"],
            "Size": d["size_bytes"],
            "IsBoot": d["is_boot"],
            "IsSystem": d["is_system"],
        }
        return Answer(ps_json(doc) + "\n", seconds=0.3)

    def probe_srv_sys_versions(self, code: str, login: str) -> Answer:
        files = []
        for name in ("srv.sys", "srv2.sys"):
            f = self.file(self.windir() + "\\System32\\drivers\\" + name)
            if f is None:
                files.append({"Name": name, "Exists": False, "FileVersion": None, "Version": None})
            else:
                v = f["file_version"]
                files.append(
                    {
                        "Name": name,
                        "Exists": True,
                        "FileVersion": f["file_version_text"],
                        "Version": v,
                    }
                )
        doc = {"OSVersion": self.m["os"]["version"], "Caption": self.m["os"]["caption"], "Files": files}
        return Answer(ps_json(doc) + "\n", seconds=0.25)

    def probe_auto_update_policy(self, code: str, login: str) -> Answer:
        key = AU_KEY
        mode = self.m.get("azure", {}).get("patch_mode")
        doc = {
            "KeyExists": self.reg_key_exists(key) or mode in AZURE_NO_AUTO_UPDATE,
            "NoAutoUpdate": AZURE_NO_AUTO_UPDATE.get(mode, self.reg(key, "NoAutoUpdate")),
            "AUOptions": self.reg(key, "AUOptions"),
        }
        if "PatchExtension" in code:
            # Azure installs Microsoft.CPlat.Core.WindowsPatchExtension for AutomaticByPlatform.
            doc["PatchExtension"] = mode == "AutomaticByPlatform"
        return Answer(ps_json(doc) + "\n", seconds=0.05)
