#!/usr/bin/env python3
"""pywinrm, the reference Python WinRM client, against the WS-Man test server.

Why this file exists: pywinrm is known to work against real Windows hosts, so it passing here
is the evidence that the test server speaks the real protocol (WS-Man envelopes, Basic over
HTTPS with a verified CA, NTLM over HTTP with and without sealing, faults, stdin over Send,
long-running commands). Run it with the venv's python (tests/winrm/venv.sh); the Rust e2e
test tests/e2e/winrm_server.rs does. Every server is started through start.sh and stopped
through stop.sh, as the Rust tests do.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.request
from pathlib import Path

import requests
import winrm
from winrm.exceptions import InvalidCredentialsError, WinRMOperationTimeoutError, WSManFaultError
from winrm.protocol import Protocol

HERE = Path(__file__).resolve().parent
USER, PASSWORD = "vmcert", "Cert-Pa55word!"


class Server:
    """One server started by start.sh in its own state directory."""

    def __init__(self, *args: str):
        self.state = tempfile.mkdtemp(prefix="vmcert-winrm-test-")
        out = subprocess.run(
            [str(HERE / "start.sh"), "--state-dir", self.state, "--user", f"{USER}:{PASSWORD}", *args],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"start.sh failed ({out.returncode}): {out.stderr}")
        self.info = json.loads(out.stdout.strip().splitlines()[-1])
        self.url = self.info["url"]

    def stop(self) -> None:
        subprocess.run([str(HERE / "stop.sh"), "--state-dir", self.state], check=True)
        shutil.rmtree(self.state, ignore_errors=True)

    def _control(self, path: str, body: dict | None = None) -> dict:
        url = self.info["stats_url"].replace("/vmcert-test/stats", path)
        data = json.dumps(body).encode() if body is not None else None
        import ssl

        ctx = ssl.create_default_context(cafile=self.info["ca_file"]) if self.info["ca_file"] else None
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=5, context=ctx) as r:
            return json.loads(r.read())

    def stats(self) -> dict:
        return self._control("/vmcert-test/stats")

    def reset_stats(self) -> None:
        self._control("/vmcert-test/stats/reset", {})

    def faults(self, **knobs) -> dict:
        return self._control("/vmcert-test/faults", knobs)


def ps_encoded(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode()


class BasicOverHttps(unittest.TestCase):
    """Basic authentication over HTTPS, the certificate verified against the printed CA."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server("--scheme", "https", "--auth", "basic")
        cls.ca = cls.server.info["ca_file"]

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def session(self, password=PASSWORD, **kw) -> winrm.Session:
        return winrm.Session(
            self.server.url, auth=(USER, password), transport="basic",
            server_cert_validation="validate", ca_trust_path=self.ca, **kw,
        )

    def test_run_cmd_and_run_ps(self):
        r = self.session().run_cmd("hostname")
        self.assertEqual((r.status_code, r.std_out, r.std_err), (0, b"WS2019-CERT01\r\n", b""))
        r = self.session().run_cmd("ipconfig")
        self.assertIn(b"   IPv4 Address. . . . . . . . . . . : 10.0.0.4\r\n", r.std_out)
        r = self.session().run_ps("$PSVersionTable.PSVersion.Major")
        self.assertEqual((r.status_code, r.std_out), (0, b"5\r\n"))
        r = self.session().run_ps("(Get-CimInstance Win32_OperatingSystem).Caption")
        self.assertEqual(r.std_out, b"Microsoft Windows Server 2019 Datacenter\r\n")

    def test_whoami_is_the_authenticated_user(self):
        r = self.session().run_cmd("whoami")
        self.assertEqual(r.std_out, b"ws2019-cert01\\vmcert\r\n")

    def test_unknown_command_is_cmd_error_exit_1(self):
        r = self.session().run_cmd("no-such-tool", ["/x"])
        self.assertEqual(r.status_code, 1)
        self.assertEqual(
            r.std_err,
            b"'no-such-tool' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n",
        )

    def test_wrong_password_is_rejected(self):
        with self.assertRaises(InvalidCredentialsError):
            self.session(password="wrong").run_cmd("hostname")

    def test_certificate_is_really_verified(self):
        # Without the CA the default trust store does not know the server: TLS fails.
        s = winrm.Session(self.server.url, auth=(USER, PASSWORD), transport="basic",
                          server_cert_validation="validate")
        with self.assertRaises(requests.exceptions.SSLError):
            s.run_cmd("hostname")

    def test_one_run_cmd_is_five_soap_requests(self):
        self.server.reset_stats()
        self.session().run_cmd("hostname")
        st = self.server.stats()
        self.assertEqual(st["operations"], {"Create": 1, "Command": 1, "Receive": 1, "Signal": 1, "Delete": 1})
        self.assertEqual(st["shells_open"], 0)


class NtlmOverHttpNoSealing(unittest.TestCase):
    """NTLM over HTTP with message_encryption='never' (server with AllowUnencrypted=true)."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server("--auth", "ntlm", "--allow-unencrypted")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def session(self, password=PASSWORD) -> winrm.Session:
        return winrm.Session(self.server.url, auth=(USER, password), transport="ntlm", message_encryption="never")

    def test_run_cmd_and_run_ps(self):
        self.server.reset_stats()
        r = self.session().run_cmd("hostname")
        self.assertEqual((r.status_code, r.std_out), (0, b"WS2019-CERT01\r\n"))
        r = self.session().run_ps("$env:COMPUTERNAME")
        self.assertEqual(r.std_out, b"WS2019-CERT01\r\n")
        st = self.server.stats()
        self.assertEqual(st["sealed_requests"], 0)
        self.assertGreaterEqual(st["auth"]["ntlm_ok"], 2)

    def test_wrong_password_is_rejected(self):
        with self.assertRaises(InvalidCredentialsError):
            self.session(password="Cert-Pa55word?").run_cmd("hostname")

    def test_domain_forms_of_the_local_account(self):
        for login in (f"WS2019-CERT01\\{USER}", f".\\{USER}"):
            s = winrm.Session(self.server.url, auth=(login, PASSWORD), transport="ntlm", message_encryption="never")
            self.assertEqual(s.run_cmd("hostname").status_code, 0, login)


class NtlmOverHttpSealed(unittest.TestCase):
    """NTLM over HTTP against Windows' default AllowUnencrypted=false: bodies must be sealed."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server("--auth", "ntlm")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_sealed_session_works(self):
        self.server.reset_stats()
        for mode in ("always", "auto"):
            s = winrm.Session(self.server.url, auth=(USER, PASSWORD), transport="ntlm", message_encryption=mode)
            r = s.run_ps("'sealed'")
            self.assertEqual((r.status_code, r.std_out), (0, b"sealed\r\n"), mode)
        st = self.server.stats()
        self.assertEqual(st["sealed_requests"], st["soap_requests"])
        self.assertEqual(st["soap_requests"], 10)

    def test_unsealed_body_is_refused(self):
        self.server.reset_stats()
        s = winrm.Session(self.server.url, auth=(USER, PASSWORD), transport="ntlm", message_encryption="never")
        with self.assertRaises(InvalidCredentialsError):
            s.run_cmd("hostname")
        self.assertGreaterEqual(self.server.stats()["unencrypted_rejected"], 1)

    def test_wrong_password_is_rejected(self):
        s = winrm.Session(self.server.url, auth=(USER, "nope"), transport="ntlm", message_encryption="always")
        with self.assertRaises(InvalidCredentialsError):
            s.run_cmd("hostname")


class ShellProtocol(unittest.TestCase):
    """The Windows Remote Shell state machine through pywinrm's Protocol (NTLM, sealed)."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server("--auth", "ntlm")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def protocol(self, operation_timeout=20) -> Protocol:
        return Protocol(self.server.url, transport="ntlm", username=USER, password=PASSWORD,
                        message_encryption="always", operation_timeout_sec=operation_timeout,
                        read_timeout_sec=operation_timeout + 10)

    def test_stdin_in_several_send_requests(self):
        self.server.reset_stats()
        p = self.protocol()
        shell = p.open_shell(codepage=65001)
        cmd = p.run_command(shell, "powershell.exe", ["-NoProfile", "-NonInteractive", "-Command", "-"])
        p.send_command_input(shell, cmd, b"'one'\r\n")
        p.send_command_input(shell, cmd, b"'two'; exit 3\r\n", end=True)
        out, err, rc = p.get_command_output(shell, cmd)
        p.cleanup_command(shell, cmd)
        p.close_shell(shell)
        self.assertEqual((out, err, rc), (b"one\r\ntwo\r\n", b"", 3))
        st = self.server.stats()
        self.assertEqual(st["operations"]["Send"], 2)
        self.assertEqual(st["stdin_bytes"], len(b"'one'\r\n'two'; exit 3\r\n"))

    def test_long_running_command_receives_running_then_timed_out_then_done(self):
        self.server.reset_stats()
        p = self.protocol(operation_timeout=1)
        shell = p.open_shell()
        cmd = p.run_command(shell, f"powershell -encodedcommand {ps_encoded(chr(39) + 'a' + chr(39) + '; Start-Sleep 2; ' + chr(39) + 'b' + chr(39))}")
        out, _, _, done = p.get_command_output_raw(shell, cmd)
        self.assertEqual((out, done), (b"a\r\n", False))
        with self.assertRaises(WinRMOperationTimeoutError):
            p.get_command_output_raw(shell, cmd)
        out, _, rc, done = p.get_command_output_raw(shell, cmd)
        self.assertEqual((out, rc, done), (b"b\r\n", 0, True))
        p.cleanup_command(shell, cmd)
        p.close_shell(shell)
        self.assertEqual(self.server.stats()["faults"], {"w:TimedOut": 1})

    def test_codepage_decides_the_output_bytes(self):
        p = self.protocol()
        for codepage, want in ((65001, "café\r\n".encode("utf-8")), (437, "café\r\n".encode("cp437"))):
            shell = p.open_shell(codepage=codepage)
            cmd = p.run_command(shell, f"powershell -encodedcommand {ps_encoded(chr(39) + 'café' + chr(39))}")
            out, _, rc = p.get_command_output(shell, cmd)
            p.cleanup_command(shell, cmd)
            p.close_shell(shell, close_session=False)
            self.assertEqual((out, rc), (want, 0), codepage)

    def test_ctrl_c_stops_a_running_command(self):
        p = self.protocol(operation_timeout=1)
        shell = p.open_shell()
        cmd = p.run_command(shell, f"powershell -encodedcommand {ps_encoded('Start-Sleep 30')}")
        req = {"env:Envelope": p.build_wsman_header(
            action="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Signal",
            resource_uri="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd", shell_id=shell)}
        req["env:Envelope"]["env:Body"] = {"rsp:Signal": {
            "@CommandId": cmd, "rsp:Code": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/ctrl_c"}}
        import xmltodict

        p.send_message(xmltodict.unparse(req))
        _, _, rc, done = p.get_command_output_raw(shell, cmd)
        self.assertEqual((rc, done), (-1073741510, True))
        p.cleanup_command(shell, cmd)
        p.close_shell(shell)

    def test_unknown_ids_give_windows_faults(self):
        p = self.protocol()
        shell = p.open_shell()
        with self.assertRaises(WSManFaultError) as e:
            p.get_command_output_raw(shell, "00000000-0000-0000-0000-000000000001")
        self.assertEqual((e.exception.wsman_fault_code, e.exception.fault_subcode), (2150858843, "w:InvalidSelectors"))
        self.assertIn("command identifier that does not exist", e.exception.response)
        p.close_shell(shell, close_session=False)
        with self.assertRaises(WSManFaultError) as e:
            p.close_shell(shell)
        self.assertEqual(e.exception.wsman_fault_code, 2150858843)
        self.assertIn(f"ShellId {shell} failed because the shell was not found", e.exception.response)

    def test_requests_per_run_do_not_grow_with_the_script(self):
        """One shell, one command, the script on stdin: the HTTP cost is the same for 1 or 200 statements."""
        counts = []
        for statements in (1, 200):
            self.server.reset_stats()
            p = self.protocol()
            shell = p.open_shell(codepage=65001)
            cmd = p.run_command(shell, "powershell.exe", ["-NoProfile", "-Command", "-"])
            script = "".join(f"'probe {i}'\r\n" for i in range(statements)).encode()
            p.send_command_input(shell, cmd, script, end=True)
            out, _, rc = p.get_command_output(shell, cmd)
            p.cleanup_command(shell, cmd)
            p.close_shell(shell)
            self.assertEqual((out.count(b"\r\n"), rc), (statements, 0))
            counts.append(self.server.stats()["http_requests"])
        self.assertEqual(counts[0], counts[1], counts)


class FaultKnobs(unittest.TestCase):
    """The fault injection knobs, at start and at run time."""

    def test_soap_fault_on_command(self):
        server = Server("--auth", "basic", "--allow-unencrypted", "--fault-on", "Command:access-denied")
        try:
            s = winrm.Session(server.url, auth=(USER, PASSWORD), transport="basic")
            with self.assertRaises(WSManFaultError) as e:
                s.run_cmd("hostname")
            self.assertEqual((e.exception.wsman_fault_code, e.exception.fault_subcode), (5, "w:AccessDenied"))
            self.assertEqual(e.exception.reason, "Access is denied.")
            server.faults(soap_fault="Receive@2:timed-out")
            p = Protocol(server.url, transport="basic", username=USER, password=PASSWORD,
                         operation_timeout_sec=2, read_timeout_sec=10)
            shell = p.open_shell()
            first = p.run_command(shell, "hostname")
            self.assertEqual(p.get_command_output(shell, first)[0], b"WS2019-CERT01\r\n")
            second = p.run_command(shell, "hostname")
            with self.assertRaises(WinRMOperationTimeoutError):  # the 2nd Receive overall
                p.get_command_output_raw(shell, second)
            self.assertEqual(p.get_command_output(shell, second)[0], b"WS2019-CERT01\r\n")
            p.close_shell(shell)
        finally:
            server.stop()

    def test_slow_receive_reset_and_stop(self):
        server = Server("--auth", "basic", "--allow-unencrypted", "--stop-after", "40")
        try:
            p = Protocol(server.url, transport="basic", username=USER, password=PASSWORD,
                         operation_timeout_sec=1, read_timeout_sec=10)
            shell = p.open_shell()
            server.faults(slow_receive=1.5)
            cmd = p.run_command(shell, "hostname")
            with self.assertRaises(WinRMOperationTimeoutError):  # held back past OperationTimeout
                p.get_command_output_raw(shell, cmd)
            server.faults(slow_receive=0)
            self.assertEqual(p.get_command_output(shell, cmd)[0], b"WS2019-CERT01\r\n")

            n = server.stats()["http_requests"]
            server.faults(reset_after=n)
            with self.assertRaises(requests.exceptions.ConnectionError):
                p.run_command(shell, "hostname")
            server.faults(reset_after=None)
            cmd = p.run_command(shell, "hostname")
            self.assertEqual(p.get_command_output(shell, cmd)[0], b"WS2019-CERT01\r\n")

            n = server.stats()["http_requests"]
            server.faults(stop_after=n)
            with self.assertRaises(requests.exceptions.ConnectionError):
                p.run_command(shell, "hostname")
            deadline = time.monotonic() + 5
            while Path(f"/proc/{server.info['pid']}").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertFalse(Path(f"/proc/{server.info['pid']}").exists(), "server still running after stop")
            stats = json.loads(Path(server.info["stats_file"]).read_text())
            self.assertEqual(stats["http_requests"], n + 1)
        finally:
            server.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
