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


def script(probes: list[tuple[str, str]], lanes: int = 4, timeout: int = 60) -> bytes:
    """A probe script in the agent's layout (agent/src/target/script/powershell.rs)."""
    nonce = "0123456789abcdef0123456789abcdef"
    rows = "\n".join(
        f"@{{ Index = {i}; Id = '{pid}'; Timeout = {timeout}; Cap = 8388608; Admin = $true; "
        f"Code = '{base64.b64encode(code.encode()).decode()}' }}"
        for i, (pid, code) in enumerate(probes)
    )
    loader = (
        "$ErrorActionPreference='Stop';$VmBody=[Console]::In.ReadToEnd();"
        f"if($VmBody.Contains('#vmcert-end:'+'{nonce}')){{& ([ScriptBlock]::Create($VmBody))}}else{{}}"
    )
    body = f"$VmMarker = '#vmcert:' + '{nonce}' + ':'\n$VmLanes = {lanes}\n$VmProbes = @(\n{rows}\n)\n#vmcert-end:{nonce}\n"
    return (loader + "\r\n" + body).encode("ascii")


def invocation(stdin: bytes, user: str = "vmcert") -> Invocation:
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
                    vmcert_handler.ScriptProbe(0, probe_id, 60, 8388608, False, fragment(probe_id)), "vmcert"
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
        res = vmcert_handler.create_handler(m).run(invocation(script([("disk0-size", fragment("disk0-size"))])))
        probe = [f for f in frames(res) if f[1] == "probe"][0][2]
        self.assertTrue(probe["error"].startswith("needs an administrator"))
        self.assertFalse(frames(res)[0][2]["admin"])

    def test_a_script_cut_short_gets_the_loaders_fatal_frame(self):
        whole = script([("os-info", fragment("os-info"))])
        res = self.handler.run(invocation(whole[: whole.rindex(b"#vmcert-end")]))
        self.assertEqual([k for _, k, _ in frames(res)], ["fatal"])

    def test_other_commands_go_to_the_default_handler(self):
        res = self.handler.run(invocation(b"'hello'\r\n"))
        self.assertEqual(res.outputs[0].data, "hello\r\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)
