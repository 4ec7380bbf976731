"""The handler that answers vmcert's PowerShell probe script from the machine profile.

Why this module exists: the agent's WinRM transport sends ONE script over the stdin of ONE
`powershell.exe -NoProfile -NonInteractive -Command -` (agent/src/target/script/powershell.rs
and script.ps1). No PowerShell runs here, so this handler plays that script: it recognizes the
loader line and the probe table (`@{ Index = N; Id = '..'; Timeout = S; Cap = B; Admin = $x;
Code = '<base64>' }`), answers each probe of the Windows catalogue (checks/src/windows/probes.rs)
from the profile in exactly the JSON that Windows PowerShell 5.1's `ConvertTo-Json -Compress`
prints for that fragment (the shapes of checks/tests/fixtures/windows), and writes the frames
the script would write, when it would write them: after a PowerShell start-up, `lanes` probes at
a time, each taking a realistic time, a probe that outlives its timeout reported as timed out.

Anything else (other programs, other scripts) goes to the default handler.

Knobs, in the profile's optional `vmcert_handler` object:
  startup_seconds  powershell.exe start and runspace pool open (default 0.7)
  timing_scale     multiplies every probe's duration (default 1.0; 0 = every probe at start-up)
  hang             probe ids that never finish, so the script's per-probe timeout fires
  pid              the process id the start frame reports (default 4242)
Which profile fields each probe reads is tables in tests/winrm/README.md ("What the Windows
probes read from the profile"); this module follows it. One addition: `os.product_type` 1 (a
client edition) has no Get-WindowsFeature, and always the BitLocker module.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from . import default_handler
from .machine import Invocation, Output, Result

LOADER_MARK = "[Console]::In.ReadToEnd()"
TABLE_ROW = re.compile(
    r"^@\{ Index = (\d+); Id = '([a-z0-9._-]+)'; Timeout = (\d+); Cap = (\d+); "
    r"Admin = \$(true|false); Code = '([A-Za-z0-9+/=]*)' \}$"
)
NONCE = re.compile(r"^\$VmMarker = '#vmcert:' \+ '([0-9a-f]{32})' \+ ':'$", re.M)
LANES = re.compile(r"^\$VmLanes = (\d+)$", re.M)
DRIVE_PATH = re.compile(r"[A-Za-z]:[\\/]")


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
    code: str


@dataclass(frozen=True)
class Script:
    nonce: str
    lanes: int
    probes: tuple[ScriptProbe, ...]
    whole: bool


def parse_script(stdin: bytes) -> Script | None:
    """vmcert's probe script, or None when stdin is something else."""
    text = stdin.decode("ascii", errors="replace")
    first, _, body = text.partition("\n")
    if LOADER_MARK not in first:
        return None
    m = re.search(r"'#vmcert-end:'\+'([0-9a-f]{32})'", first)
    if not m:
        return None
    nonce = m.group(1)
    whole = f"#vmcert-end:{nonce}" in body
    lanes_m = LANES.search(body)
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
                    code=base64.b64decode(row.group(6)).decode("utf-8"),
                )
            )
    nonce_m = NONCE.search(body)
    if whole and (not nonce_m or nonce_m.group(1) != nonce or not lanes_m):
        raise ValueError("vmcert probe script without its marker or lane count")
    return Script(nonce, int(lanes_m.group(1)) if lanes_m else 1, tuple(probes), whole)


@dataclass(frozen=True)
class Answer:
    """What one probe prints (stdout as the fragment's text output), its status and its time."""

    stdout: str = ""
    stderr: str = ""
    rc: int = 0
    seconds: float = 0.1


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
        script = parse_script(inv.stdin) if inv.stdin else None
        if script is None:
            return self.default.run(inv)
        return self.play(script, inv)

    # ---- the account --------------------------------------------------------------------

    def account(self, login: str) -> dict | None:
        name = login.split("\\")[-1].split("@")[0].lower()
        for u in self.m.get("local_users", []):
            if u["name"].lower() == name:
                return u
        return None

    def is_admin(self, login: str) -> bool:
        u = self.account(login)
        return bool(u) and "Administrators" in u.get("groups", [])

    # ---- playing the script -------------------------------------------------------------

    def play(self, script: Script, inv: Invocation) -> Result:
        mark = f"#vmcert:{script.nonce}:"
        if not script.whole:
            fatal = mark + 'fatal {"error":"the script did not arrive whole on stdin"}\n'
            return Result(0, (Output("stdout", fatal, 0.3),), 0.35)
        startup = float(self.knobs.get("startup_seconds", 0.7))
        scale = float(self.knobs.get("timing_scale", 1.0))
        hang = set(self.knobs.get("hang", []))
        admin = self.is_admin(inv.user)
        ps_version = self.m["os"].get("powershell_version", "5.1.17763.6054")
        start = {
            "n": len(script.probes),
            "lanes": script.lanes,
            "ps": ps_version,
            "admin": admin,
            "pid": int(self.knobs.get("pid", 4242)),
        }
        outputs = [Output("stdout", mark + "start " + json.dumps(start, separators=(",", ":")) + "\n", startup)]
        lanes_free = [startup] * max(1, script.lanes)
        finished = []
        for p in script.probes:
            lane = min(range(len(lanes_free)), key=lambda i: lanes_free[i])
            began = lanes_free[lane]
            if p.admin and not admin:
                frame = self.frame(p, None, 0, False, "", "", "needs an administrator: the account is not an elevated member of Administrators")
                end = began
            else:
                ans = self.answer(p, inv.user)
                took = ans.seconds * scale
                if p.id in hang or took >= p.timeout:
                    end = began + p.timeout + 0.02
                    frame = self.frame(p, None, int((end - began) * 1000), True, "", "", None)
                else:
                    end = began + took
                    frame = self.frame(p, ans.rc, int(took * 1000), False, ans.stdout, ans.stderr, None)
            lanes_free[lane] = end
            finished.append((end, p.index, frame))
        finished.sort()
        last = startup
        for end, _, frame in finished:
            outputs.append(Output("stdout", mark + "probe " + frame + "\n", end))
            last = max(last, end)
        outputs.append(Output("stdout", mark + 'done {"n":%d}\n' % len(script.probes), last + 0.01))
        return Result(0, tuple(outputs), last + 0.01)

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
        doc = {"Name": f"{self.m['hostname']}\\{u['name']}", "Sid": u["sid"], "IsAdministrator": self.is_admin(login)}
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
            return Answer(ps_json({"MountPoint": mount, "BitLockerAvailable": False}) + "\n", seconds=0.08)
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
        return Answer(ps_json(doc) + "\n", seconds=3.5)

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
            for s in sorted(self.m["services"], key=lambda s: s["name"].lower())
            if DRIVE_PATH.search(s.get("path", ""))
        ]
        actions = []
        for t in self.m.get("scheduled_tasks", []):
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
        doc = {"Drives": drives, "Services": services, "TaskActions": actions, "SystemPath": self.m.get("system_path")}
        return Answer(ps_json(doc) + "\n", seconds=1.6)

    def service_rows(self, pick, fields) -> list[dict]:
        start_mode = {"Automatic": "Auto", "Manual": "Manual", "Disabled": "Disabled"}
        rows = []
        for s in sorted(self.m["services"], key=lambda s: s["name"].lower()):
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
        # The fragment selects Get-NetFirewallRule rows by the group's language-independent name.
        group = next(
            (g for g in self.m.get("firewall_rule_groups", []) if g.get("group") == "@FirewallAPI.dll,-28752"), None
        )
        rules = [
            {
                "Name": r["name"],
                "DisplayName": r["display_name"],
                "Enabled": "True" if r["enabled"] else "False",
                "Direction": r["direction"],
            }
            for r in (group or {}).get("rules", [])
        ]
        doc = {
            "fDenyTSConnections": self.reg(ts, "fDenyTSConnections"),
            "PolicyDenyTSConnections": self.reg(
                "HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows NT\\Terminal Services", "fDenyTSConnections"
            ),
            "PortNumber": self.reg(ts + "\\WinStations\\RDP-Tcp", "PortNumber"),
            "FirewallRules": rules,
        }
        return Answer(ps_json(doc) + "\n", seconds=0.9)

    def probe_disk0_size(self, code: str, login: str) -> Answer:
        d = next(d for d in self.m["disks"] if d["number"] == 0)
        doc = {
            "Number": 0,
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
        key = "HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\WindowsUpdate\\AU"
        doc = {
            "KeyExists": self.reg_key_exists(key),
            "NoAutoUpdate": self.reg(key, "NoAutoUpdate"),
            "AUOptions": self.reg(key, "AUOptions"),
        }
        return Answer(ps_json(doc) + "\n", seconds=0.05)
