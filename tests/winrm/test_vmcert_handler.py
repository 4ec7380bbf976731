"""Checks that the vmcert handler prints what the Windows checks' own fixtures say Windows prints.

Why this file exists: the handler renders every probe's JSON from the machine profile, and the
checks' fixture cases (checks/tests/fixtures/windows/<check>/<case>/) that pass on the golden
machine are that same profile rendered by hand from the probe fragments. If the two disagree,
one of them is wrong, and the end-to-end tests would pass against a shape no Windows prints.
Also covers the script parsing, the frame timing and the timeout knob. Run by
tests/e2e/windows.rs with the venv's python (stdlib unittest).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import sys
import tomllib
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

from winrm_lab import vmcert_handler  # noqa: E402
from winrm_lab.machine import Invocation, load_profile  # noqa: E402

FIXTURES = ROOT / "checks" / "tests" / "fixtures" / "windows"
GOLDEN = HERE / "profiles" / "windows-server-2019.json"


def fragment(probe_id: str) -> str:
    """The PowerShell text of a catalogue probe, from checks/src/windows/probes.rs."""
    text = (ROOT / "checks" / "src" / "windows" / "probes.rs").read_text()
    m = re.search(r'p\(\s*"' + re.escape(probe_id) + r'",.*?r#?"(.*?)"#?,\s*\),', text, re.S)
    if not m:
        raise AssertionError(f"probe {probe_id} not found in probes.rs")
    return m.group(1)


NONCE = "0123456789abcdef0123456789abcdef"


def loader(body: str, nonce: str = NONCE, chunk: int = 2000) -> bytes:
    """The agent's loader around `body` (agent/src/target/script/powershell.rs): one-line
    statements the console host reads itself, then the check line."""
    data = body.encode("utf-8")
    b64 = base64.b64encode(data).decode("ascii")
    lines = ["", "$VmB = New-Object System.Text.StringBuilder"]
    lines += [f"[void]$VmB.Append('{b64[i:i + chunk]}')" for i in range(0, len(b64), chunk)]
    lines.append(
        f"$VmWhy='';try{{$VmBytes=[Convert]::FromBase64String($VmB.ToString());...;if($VmBytes.Length -ne {len(data)})"
        f"{{...}}elseif($VmSha -ne '{hashlib.sha256(data).hexdigest().upper()}'){{...}}"
        f"elseif(-not $VmText.StartsWith('#vmcert-begin:'+'{nonce}')){{...}}...& ([ScriptBlock]::Create($VmText))..."
    )
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def body(
    probes: list[tuple[str, str]], lanes: int = 4, timeout: int = 60, extra: str = "", after: dict | None = None
) -> str:
    """A probe script body in the agent's layout (agent/src/target/script/script.ps1); `after`
    maps a probe's index to the index of the probe it waits for."""
    after = after or {}
    rows = "\n".join(
        f"@{{ Index = {i}; Id = '{pid}'; Timeout = {timeout}; Cap = 8388608; Admin = $true; "
        f"After = {after.get(i, -1)}; Code = '{base64.b64encode(code.encode()).decode()}' }}"
        for i, (pid, code) in enumerate(probes)
    )
    return (
        f"#vmcert-begin:{NONCE}\r\n$VmMarker = '#vmcert:' + '{NONCE}' + ':'\n$VmLanes = {lanes}\n"
        f"$VmProbes = @(\n{rows}\n)\n{extra}#vmcert-end:{NONCE}\r\n"
    )


def script(probes: list[tuple[str, str]], lanes: int = 4, timeout: int = 60, after: dict | None = None) -> bytes:
    return loader(body(probes, lanes, timeout, after=after))


def old_console_in_script(probes: list[tuple[str, str]]) -> bytes:
    """vmcert's loader before issue 15: line 1 reads the rest with [Console]::In.ReadToEnd()."""
    first = (
        "$ErrorActionPreference='Stop';$VmBody=[Console]::In.ReadToEnd();"
        f"if($VmBody.Contains('#vmcert-end:'+'{NONCE}')){{& ([ScriptBlock]::Create($VmBody))}}else{{}}"
    )
    return (first + "\r\n" + body(probes)).encode("ascii")


def invocation(stdin: bytes, user: str = "vmcert", environment: dict | None = None) -> Invocation:
    line = "powershell.exe -NoProfile -NonInteractive -Command -"
    return Invocation(
        command="powershell.exe",
        arguments=("-NoProfile", "-NonInteractive", "-Command", "-"),
        command_line=line,
        argv=tuple(line.split()),
        stdin=stdin,
        user=user,
        codepage=65001,
        skip_cmd_shell=False,
        environment=environment or {},
    )


def frames(result) -> list[tuple[float, str, dict]]:
    out = []
    for o in result.outputs:
        for line in o.data.splitlines():
            kind, _, js = line.split(":", 2)[2].partition(" ")
            out.append((o.at, kind, json.loads(js)))
    return out


class GoldenFixtures(unittest.TestCase):
    def test_every_golden_pass_fixture_is_what_the_handler_prints(self):
        handler = vmcert_handler.create_handler(load_profile(GOLDEN))
        compared = 0
        for case in sorted(FIXTURES.glob("*/*/case.toml")):
            meta = tomllib.loads(case.read_text())
            golden_only = meta.get("source", "").startswith("golden machine") and ";" not in meta["source"]
            if not golden_only or meta.get("expect") not in ("Pass", "NotApplicable"):
                continue
            for stdout in case.parent.glob("*.stdout"):
                probe_id = stdout.name.removesuffix(".stdout")
                got = handler.answer(
                    vmcert_handler.ScriptProbe(0, probe_id, 60, 8388608, False, -1, fragment(probe_id)), "vmcert"
                )
                with self.subTest(case=str(case.parent.relative_to(FIXTURES)), probe=probe_id):
                    self.assertEqual(got.rc, 0, got.stderr)
                    self.assertEqual(got.stdout.strip(), stdout.read_text(encoding="utf-8").strip())
                    compared += 1
        self.assertGreaterEqual(compared, 10, "too few golden fixture cases found")


class ScriptPlay(unittest.TestCase):
    def setUp(self):
        self.handler = vmcert_handler.create_handler(load_profile(GOLDEN))

    def test_frames_stream_per_probe_after_startup(self):
        probes = [("os-info", fragment("os-info")), ("pending-updates", fragment("pending-updates"))]
        res = self.handler.run(invocation(script(probes)))
        fr = frames(res)
        self.assertEqual([k for _, k, _ in fr], ["start", "probe", "probe", "done"])
        self.assertEqual(fr[0][2]["n"], 2)
        self.assertEqual(fr[1][2]["id"], "os-info")
        self.assertLess(fr[1][0], fr[2][0], "a quick probe reports before a slow one")
        os_info = json.loads(base64.b64decode(fr[1][2]["stdout_b64"]))
        self.assertEqual(os_info["Caption"], "Microsoft Windows Server 2019 Datacenter")
        self.assertEqual(res.exit_code, 0)

    def probes_by_id(self, res) -> dict[str, tuple[float, dict]]:
        return {f[2]["id"]: (f[0], f[2]) for f in frames(res) if f[1] == "probe"}

    def test_the_feature_query_fails_while_the_update_search_runs(self):
        probes = [("pending-updates", fragment("pending-updates")), ("windows-features", fragment("windows-features"))]
        got = self.probes_by_id(self.handler.run(invocation(script(probes))))
        features = got["windows-features"][1]
        self.assertEqual(features["rc"], 1)
        self.assertIn("servicing stack is busy", base64.b64decode(features["stderr_b64"]).decode())
        self.assertEqual(got["pending-updates"][1]["rc"], 0)

    def test_a_feature_query_after_the_update_search_waits_and_the_rest_do_not(self):
        probes = [
            ("pending-updates", fragment("pending-updates")),
            ("windows-features", fragment("windows-features")),
            ("os-info", fragment("os-info")),
            ("rdp-settings", fragment("rdp-settings")),
        ]
        got = self.probes_by_id(self.handler.run(invocation(script(probes, lanes=2, after={1: 0}))))
        search_end, features_end = got["pending-updates"][0], got["windows-features"][0]
        features = got["windows-features"][1]
        self.assertEqual(features["rc"], 0, base64.b64decode(features["stderr_b64"]))
        # It started when the search ended (0.7 s start-up + 3.5 s search) and ran its own time.
        self.assertAlmostEqual(features_end - features["ms"] / 1000, search_end, delta=0.01)
        self.assertAlmostEqual(search_end, 0.7 + 3.5, delta=0.01)
        # Meanwhile the second lane ran the later probes, one after the other, at once.
        self.assertLess(got["os-info"][0], search_end)
        self.assertLess(got["rdp-settings"][0], search_end)

    def test_a_hung_probe_reports_timed_out_at_its_timeout(self):
        m = load_profile(GOLDEN)
        m["vmcert_handler"] = {"hang": ["os-info"]}
        res = vmcert_handler.create_handler(m).run(invocation(script([("os-info", "x")], timeout=3)))
        probe = [f for f in frames(res) if f[1] == "probe"][0]
        self.assertTrue(probe[2]["timed_out"])
        self.assertIsNone(probe[2]["rc"])
        self.assertAlmostEqual(probe[0], 0.7 + 3, delta=0.1)

    def test_admin_probes_do_not_run_for_a_plain_account(self):
        m = load_profile(GOLDEN)
        for u in m["local_users"]:
            if u["name"] == "vmcert":
                u["groups"] = ["Remote Management Users"]
        res = vmcert_handler.create_handler(m).run(invocation(script([("os-disk", fragment("os-disk"))])))
        probe = [f for f in frames(res) if f[1] == "probe"][0][2]
        self.assertTrue(probe["error"].startswith("needs an administrator"))
        self.assertFalse(frames(res)[0][2]["admin"])

    def test_a_script_cut_short_gets_the_loaders_fatal_frame(self):
        whole = script([("os-info", fragment("os-info"))])
        lines = whole.split(b"\r\n")
        # One Append line lost: the length check fails, nothing runs.
        res = self.handler.run(invocation(b"\r\n".join(lines[:2] + lines[3:])))
        fr = frames(res)
        self.assertEqual([k for _, k, _ in fr], ["fatal"])
        self.assertIn("length", fr[0][2]["error"])

    def test_an_altered_or_unmarked_body_never_runs(self):
        good = body([("os-info", fragment("os-info"))])
        swapped = loader(good.replace("os-info", "os-inf0"))
        # Same length, other bytes: the loader the SHA-256 was computed for is another.
        stdin = swapped.replace(
            re.search(rb"\$VmSha -ne '([0-9A-F]{64})'", swapped).group(1),
            hashlib.sha256(good.encode()).hexdigest().upper().encode(),
        )
        self.assertEqual(frames(self.handler.run(invocation(stdin)))[0][2]["error"].split(": ")[-1], "SHA-256 mismatch")
        no_begin = loader(good.replace("#vmcert-begin:", "#vmcert-start:"))
        self.assertIn("no begin marker", frames(self.handler.run(invocation(no_begin)))[0][2]["error"])

    def test_a_console_in_loader_loses_the_first_4_kb_as_on_windows_powershell_5_1(self):
        probes = [(p, fragment(p)) for p in ("os-info", "setup-state", "pending-updates", "drives-and-references")]
        old = old_console_in_script(probes)
        self.assertGreater(len(old), 4096)
        res = self.handler.run(invocation(old))
        self.assertEqual([o.stream for o in res.outputs], ["stderr"], "no frame at all")
        self.assertIn("ParseException", res.outputs[0].data)
        # The same body through the line-statement loader runs whole.
        self.assertEqual(frames(self.handler.run(invocation(script(probes))))[-1][1], "done")

    def test_a_byte_order_mark_on_stdout_when_asked(self):
        m = load_profile(GOLDEN)
        m["vmcert_handler"] = {"stdout_bom": True}
        res = vmcert_handler.create_handler(m).run(invocation(script([("os-info", fragment("os-info"))])))
        self.assertTrue(res.outputs[0].data.startswith("\ufeff#vmcert:"))

    def test_had_errors_counts_suppressed_errors(self):
        m = load_profile(GOLDEN)
        suppressing = "if (Get-Command -Name Get-BitLockerVolume -ErrorAction SilentlyContinue) { 1 } else { 'x' | ConvertTo-Json -Compress }"
        for extra, rc in (("if ($Job.Ps.HadErrors) { $rc = 1 }\n", 1), ("", 0)):
            stdin = loader(body([("bitlocker-os-volume", suppressing)], extra=extra))
            probe = [f for f in frames(vmcert_handler.create_handler(m).run(invocation(stdin))) if f[1] == "probe"][0][2]
            self.assertEqual(probe["rc"], rc, extra)

    def test_a_filtered_administrator_token_runs_no_admin_probe_and_says_why(self):
        m = load_profile(GOLDEN)
        # vmcert is a local administrator with RID 1000: without LocalAccountTokenFilterPolicy
        # its network logon gets the filtered token.
        m["registry"] = [r for r in m["registry"] if r["name"] != "LocalAccountTokenFilterPolicy"]
        fr = frames(vmcert_handler.create_handler(m).run(invocation(script([("os-disk", fragment("os-disk"))]))))
        self.assertEqual((fr[0][2]["admin"], fr[0][2]["filtered"]), (False, True))
        self.assertIn("UAC-filtered", fr[1][2]["error"])
        user = json.loads(vmcert_handler.create_handler(m).answer(
            vmcert_handler.ScriptProbe(0, "current-user", 60, 65536, False, -1, fragment("current-user")), "vmcert").stdout)
        self.assertEqual((user["IsAdministrator"], user["AdministratorsDenyOnly"]), (False, True))
        # The built-in Administrator (RID 500) is never filtered.
        fr = frames(vmcert_handler.create_handler(m).run(invocation(script([("os-disk", fragment("os-disk"))]), user="azureadmin")))
        self.assertEqual((fr[0][2]["admin"], fr[0][2]["filtered"]), (True, False))

    def test_other_commands_go_to_the_default_handler(self):
        res = self.handler.run(invocation(b"'hello'\r\n"))
        self.assertEqual(res.outputs[0].data, "hello\r\n")


KEY_LINE = "$VmKeyHex = [Environment]::GetEnvironmentVariable('VMCERT_FRAME_KEY', 'Process')\n"


def frame_lines(result) -> list[tuple[str, str, str]]:
    """(kind, hmac, json) of every frame line on stdout, glued partial lines included."""
    text = "".join(o.data for o in sorted(result.outputs, key=lambda o: o.at) if o.stream == "stdout")
    out = []
    for line in text.splitlines():
        rest = line.split(f"#vmcert:{NONCE}:", 1)[1]
        kind, mac, js = rest.split(" ", 2)
        out.append((kind, mac, js))
    return out


class FrameKey(unittest.TestCase):
    """Issue 17, item 1: the script reads its frame key from the shell's environment and every
    frame carries HMAC-SHA256(key, "<kind> <json>"); a forger, who never sees the key, cannot."""

    KEY = bytes(range(32))

    def run_script(self, knobs: dict, environment: dict):
        m = load_profile(GOLDEN)
        m["vmcert_handler"] = knobs
        stdin = loader(body([("os-info", fragment("os-info")), ("sql-services", fragment("sql-services"))], extra=KEY_LINE))
        return vmcert_handler.create_handler(m).run(invocation(stdin, environment=environment))

    def test_every_frame_carries_the_hmac_under_the_key_from_the_environment(self):
        res = self.run_script({"timing_scale": 0.1}, {"VMCERT_FRAME_KEY": self.KEY.hex()})
        lines = frame_lines(res)
        self.assertEqual([k for k, _, _ in lines], ["start", "probe", "probe", "done"])
        for kind, mac, js in lines:
            want = hmac.new(self.KEY, f"{kind} {js}".encode(), hashlib.sha256).hexdigest()
            self.assertEqual(mac, want, kind)

    def test_without_the_key_the_script_stops_with_a_fatal_frame(self):
        res = self.run_script({}, {})
        self.assertIn('fatal {"error":"no frame key in the environment (VMCERT_FRAME_KEY)"}', res.outputs[0].data)

    def test_a_forged_frame_has_no_valid_hmac_and_can_hide_the_real_one(self):
        forge = [{"during": "os-info", "for": "sql-services", "stdout": "", "hide_real": True}]
        res = self.run_script({"timing_scale": 0.1, "forge": forge}, {"VMCERT_FRAME_KEY": self.KEY.hex()})
        text = "".join(o.data for o in sorted(res.outputs, key=lambda o: o.at) if o.stream == "stdout")
        self.assertIn(f"\nx#vmcert:{NONCE}:probe ", text, "the real frame is glued to a partial line")
        forged = [(k, m, j) for k, m, j in frame_lines(res) if k == "probe" and json.loads(j)["ms"] == 5]
        self.assertEqual(len(forged), 1)
        kind, mac, js = forged[0]
        self.assertNotEqual(mac, hmac.new(self.KEY, f"{kind} {js}".encode(), hashlib.sha256).hexdigest())


if __name__ == "__main__":
    unittest.main(verbosity=2)
