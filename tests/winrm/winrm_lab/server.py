"""The WS-Management HTTP(S) listener standing in for a Windows Server's WinRM service.

Why this module exists: no Windows can run on the project machine, yet the WinRM transport
must be tested against the real protocol with real clients (pywinrm, winrm-rs). This listener
serves POST /wsman like the WinRM service: Basic and Negotiate/NTLM authentication checked
against real passwords, NTLM sealing required over plain HTTP unless --allow-unencrypted,
the cmd shell operations (shells.py), Windows' fault envelopes, plus what tests need around
it: request counters (GET /vmcert-test/stats and <state-dir>/stats.json) and fault knobs
(command line flags, or POST /vmcert-test/faults while running).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import socket
import ssl
import struct
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from . import auth, soap, tls
from .machine import ProfileError, load_handler, load_profile
from .shells import ShellHost

HERE = Path(__file__).resolve().parent
DEFAULT_PROFILE = HERE.parent / "profiles" / "windows-server-2019.json"


class Stats:
    """Counters a test asserts on (e.g. "requests per run do not grow with the number of checks")."""

    def __init__(self, path: Path):
        self.path = path
        self.lock = threading.Lock()
        self.data: dict = {}
        self.reset()

    def reset(self) -> None:
        """Zeroes every counter except the number of shells still open."""
        with self.lock:
            open_shells = self.data.get("shells_open", 0)
            self.data = {
                "http_requests": 0,  # every request to /wsman, authentication legs included
                "http_status": {},
                "connections": 0,
                "soap_requests": 0,
                "sealed_requests": 0,
                "unencrypted_rejected": 0,
                "operations": {},
                "faults": {},
                "auth": {"basic_ok": 0, "basic_failed": 0, "ntlm_ok": 0, "ntlm_failed": 0},
                "shells_created": 0,
                "shells_open": open_shells,
                "commands_started": 0,
                "command_lines": [],
                "stdin_bytes": 0,
                "stdout_bytes": 0,
                "stderr_bytes": 0,
            }

    def _bump(self, key: str, sub: str | None = None, n: int = 1) -> None:
        with self.lock:
            if sub is None:
                self.data[key] += n
            else:
                self.data[key][sub] = self.data[key].get(sub, 0) + n

    def begin_request(self) -> int:
        with self.lock:
            self.data["http_requests"] += 1
            return self.data["http_requests"]

    def status(self, code: int) -> None:
        self._bump("http_status", str(code))

    def connection(self) -> None:
        self._bump("connections")

    def operation(self, name: str) -> int:
        with self.lock:
            self.data["soap_requests"] += 1
            ops = self.data["operations"]
            ops[name] = ops.get(name, 0) + 1
            return ops[name]

    def fault(self, subcode: str) -> None:
        self._bump("faults", subcode)

    def auth(self, what: str) -> None:
        self._bump("auth", what)

    def sealed(self) -> None:
        self._bump("sealed_requests")

    def unencrypted_rejected(self) -> None:
        self._bump("unencrypted_rejected")

    def shell_opened(self) -> None:
        with self.lock:
            self.data["shells_created"] += 1
            self.data["shells_open"] += 1

    def shell_closed(self) -> None:
        self._bump("shells_open", n=-1)

    def command_started(self, line: str) -> None:
        with self.lock:
            self.data["commands_started"] += 1
            if len(self.data["command_lines"]) < 200:
                self.data["command_lines"].append(line[:300])

    def stdin(self, n: int) -> None:
        self._bump("stdin_bytes", n=n)

    def output(self, stream: str, n: int) -> None:
        self._bump(f"{stream}_bytes", n=n)

    def snapshot(self) -> dict:
        with self.lock:
            return json.loads(json.dumps(self.data))

    def write(self) -> None:
        snap = self.snapshot()
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(snap, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.path)


@dataclass
class SoapFaultKnob:
    operation: str
    kind: str
    nth: int | None  # None: every request of that operation


class Faults:
    """Fault injection knobs; set at start or changed at run time through the control endpoint."""

    def __init__(self) -> None:
        self.soap_fault: SoapFaultKnob | None = None
        self.slow_receive = 0.0
        self.reset_after: int | None = None
        self.stop_after: int | None = None

    @staticmethod
    def parse_soap_fault(spec: str) -> SoapFaultKnob:
        """`OP[@N][:KIND]`, e.g. `Command`, `Receive@2:timed-out`, `Create:access-denied`."""
        head, _, kind = spec.partition(":")
        op, _, nth = head.partition("@")
        kind = kind or "access-denied"
        if op not in soap.OPERATIONS:
            raise ValueError(f"unknown operation {op!r} (one of {', '.join(soap.OPERATIONS)})")
        if kind not in soap.FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r} (one of {', '.join(soap.FAULT_KINDS)})")
        return SoapFaultKnob(op, kind, int(nth) if nth else None)

    def update(self, changes: dict) -> None:
        if "soap_fault" in changes:
            v = changes["soap_fault"]
            self.soap_fault = self.parse_soap_fault(v) if v else None
        if "slow_receive" in changes:
            self.slow_receive = float(changes["slow_receive"] or 0)
        if "reset_after" in changes:
            v = changes["reset_after"]
            self.reset_after = None if v is None else int(v)
        if "stop_after" in changes:
            v = changes["stop_after"]
            self.stop_after = None if v is None else int(v)

    def describe(self) -> dict:
        sf = self.soap_fault
        return {
            "soap_fault": f"{sf.operation}{'@' + str(sf.nth) if sf.nth else ''}:{sf.kind}" if sf else None,
            "slow_receive": self.slow_receive,
            "reset_after": self.reset_after,
            "stop_after": self.stop_after,
        }

    def soap_fault_for(self, operation: str | None, count: int) -> soap.Fault | None:
        sf = self.soap_fault
        if sf and operation == sf.operation and (sf.nth is None or sf.nth == count):
            return soap.FAULT_KINDS[sf.kind]()
        return None


class WsmanServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, addr, cfg: argparse.Namespace, host: ShellHost, accounts: auth.Accounts,
                 stats: Stats, faults: Faults, ssl_context: ssl.SSLContext | None, bindings, log):
        self.cfg = cfg
        self.host = host
        self.accounts = accounts
        self.stats = stats
        self.faults = faults
        self.ssl_context = ssl_context
        self.bindings = bindings
        self.log = log
        super().__init__(addr, WsmanHandler)

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.ssl_context is not None:
            # The TLS handshake runs in the connection's thread (WsmanHandler.setup), not here.
            sock = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ssl.SSLError, ConnectionError, TimeoutError, socket.timeout)):
            self.log(f"connection from {client_address[0]}:{client_address[1]} ended: {exc!r}")
            return
        super().handle_error(request, client_address)


class WsmanHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Without TCP_NODELAY every keep-alive request waits ~40 ms for the delayed ACK.
    disable_nagle_algorithm = True
    timeout = 300
    server: WsmanServer

    def version_string(self) -> str:
        return "Microsoft-HTTPAPI/2.0"

    def log_message(self, format, *args):  # noqa: A002 - the base class' name
        pass

    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(30)
            self.request.do_handshake()
        super().setup()
        self.ntlm = auth.NtlmConnection(self.server.bindings)
        self.server.stats.connection()

    # ---- plumbing -----------------------------------------------------------------------

    def _reply(self, code: int, body: bytes = b"", content_type: str | None = None, headers=()) -> None:
        # Counters are on disk before the client sees the answer, so a test reading
        # stats.json right after a response never sees an older count.
        self.server.stats.status(code)
        self.server.stats.write()
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        if body:
            self.send_header("Content-Type", content_type or "application/soap+xml;charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _challenge(self) -> None:
        headers = []
        if "ntlm" in self.server.cfg.auth:
            headers.append(("WWW-Authenticate", "Negotiate"))
        if "basic" in self.server.cfg.auth:
            headers.append(("WWW-Authenticate", 'Basic realm="WSMAN"'))
        self._reply(401, headers=headers)

    def _reset_connection(self) -> None:
        """Closes the TCP connection with an RST and no HTTP response."""
        sock = self.request
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True
        self.was_reset = True
        sock.close()

    def finish(self):
        if getattr(self, "was_reset", False):
            return
        try:
            super().finish()
        except OSError:
            pass

    # ---- authentication -----------------------------------------------------------------

    def _authenticate(self) -> tuple[str | None, list]:
        """The authenticated login, or None after having answered 401."""
        cfg, stats = self.server.cfg, self.server.stats
        authz = self.headers.get("Authorization", "")
        scheme, _, value = authz.partition(" ")
        scheme = scheme.lower()
        if scheme == "basic" and "basic" in cfg.auth:
            login = self.server.accounts.check_basic(value)
            stats.auth("basic_ok" if login else "basic_failed")
            if login is None:
                self._challenge()
            return login, []
        if scheme in ("negotiate", "ntlm") and "ntlm" in cfg.auth:
            try:
                token = base64.b64decode(value.strip(), validate=True)
            except ValueError:
                token = b""
            ok, out = self.ntlm.step(token) if token else (False, None)
            if ok:
                stats.auth("ntlm_ok")
                extra = [("WWW-Authenticate", "Negotiate " + base64.b64encode(out).decode())] if out else []
                return self.ntlm.user, extra
            if out:
                self._reply(401, headers=[("WWW-Authenticate", "Negotiate " + base64.b64encode(out).decode())])
                return None, []
            stats.auth("ntlm_failed")
            self._challenge()
            return None, []
        if not authz and self.ntlm.authenticated:
            return self.ntlm.user, []
        self._challenge()
        return None, []

    # ---- HTTP verbs ---------------------------------------------------------------------

    def do_GET(self):
        if self.path.rstrip("/") == "/vmcert-test/stats":
            return self._reply(200, json.dumps(self.server.stats.snapshot()).encode(), "application/json")
        if self.path.rstrip("/") == "/vmcert-test/faults":
            return self._reply(200, json.dumps(self.server.faults.describe()).encode(), "application/json")
        self._read_body()
        self._reply(405 if self.path.lower().startswith("/wsman") else 404)

    def do_POST(self):
        started = time.monotonic()
        if self.path.startswith("/vmcert-test/"):
            return self._control()
        srv = self.server
        n = srv.stats.begin_request()
        if srv.faults.stop_after is not None and n > srv.faults.stop_after:
            srv.log(f"#{n}: stop-after {srv.faults.stop_after} reached, exiting without an answer")
            srv.stats.write()
            os._exit(0)
        if srv.faults.reset_after is not None and n > srv.faults.reset_after:
            srv.log(f"#{n}: reset-after {srv.faults.reset_after}: connection reset")
            srv.stats.write()
            return self._reset_connection()
        body = self._read_body()
        op = "-"
        try:
            if self.path.split("?")[0].lower() != "/wsman":
                return self._reply(404)
            user, auth_headers = self._authenticate()
            if user is None:
                op = "401"
                return
            op = self._wsman(body, user, auth_headers)
        finally:
            srv.log(f"#{n} {op} {(time.monotonic() - started) * 1000:.1f}ms")

    def _wsman(self, body: bytes, user: str, auth_headers: list) -> str:
        srv = self.server
        sealed = auth.is_sealed(self.headers.get("Content-Type", ""))
        if sealed:
            try:
                text = self.ntlm.unseal(body)
            except ValueError as e:
                srv.log(f"sealed body rejected: {e}")
                self._reply(400, headers=auth_headers)
                return "sealed-invalid"
            srv.stats.sealed()
        else:
            text = body
            if text.strip() and srv.cfg.scheme == "http" and not srv.cfg.allow_unencrypted:
                # AllowUnencrypted=false (Windows' default): an unsealed SOAP body over HTTP is
                # refused with 401, as Windows does (reported in hashicorp/packer#6205).
                srv.stats.unencrypted_rejected()
                self._challenge()
                return "unencrypted-rejected"
        if not text.strip():
            # An authentication-only request (pywinrm sends one before sealing starts).
            self._reply(200, headers=auth_headers)
            return "empty"
        try:
            req = soap.parse_request(text)
        except soap.MalformedRequest as e:
            srv.log(f"malformed request: {e}")
            self._reply(400, headers=auth_headers)
            return "malformed"
        name = req.operation or req.action
        count = srv.stats.operation(name)
        host_header = self.headers.get("Host", f"{srv.cfg.host}:{srv.server_port}")
        machine = host_header.rsplit(":", 1)[0].strip("[]")
        try:
            injected = srv.faults.soap_fault_for(req.operation, count)
            if injected:
                raise soap.FaultError(injected)
            h = srv.host
            if req.operation == "Create":
                out = soap.envelope(req.action + "Response", req.message_id,
                                    h.create(req, user, host_header, srv.cfg.scheme))
            elif req.operation == "Delete":
                out = soap.envelope(req.action + "Response", req.message_id, h.delete(req), with_shell_ns=False)
            elif req.operation == "Command":
                out = soap.envelope(req.action + "Response", req.message_id, h.command(req, user))
            elif req.operation == "Send":
                out = soap.envelope(req.action + "Response", req.message_id, h.send(req, user))
            elif req.operation == "Receive":
                out = soap.envelope(req.action + "Response", req.message_id, h.receive(req, srv.faults.slow_receive))
            elif req.operation == "Signal":
                out = soap.envelope(req.action + "Response", req.message_id, h.signal(req))
            else:
                raise soap.FaultError(soap.action_not_supported(req.action))
            code = 200
        except soap.FaultError as fe:
            srv.stats.fault(fe.fault.subcode)
            out, code = fe.fault.to_envelope(req.message_id, machine), 500
        except soap.MalformedRequest as e:
            srv.log(f"malformed {name}: {e}")
            self._reply(400, headers=auth_headers)
            return name
        if sealed:
            self._reply(code, self.ntlm.seal(out), auth.ENCRYPTED_CONTENT_TYPE, headers=auth_headers)
        else:
            self._reply(code, out, headers=auth_headers)
        return f"{name}->{code}"

    def _control(self) -> None:
        body = self._read_body()
        path = self.path.rstrip("/")
        try:
            if path == "/vmcert-test/faults":
                self.server.faults.update(json.loads(body or b"{}"))
                return self._reply(200, json.dumps(self.server.faults.describe()).encode(), "application/json")
            if path == "/vmcert-test/stats/reset":
                self.server.stats.reset()
                self.server.stats.write()
                return self._reply(200, json.dumps(self.server.stats.snapshot()).encode(), "application/json")
        except (ValueError, TypeError) as e:
            return self._reply(400, json.dumps({"error": str(e)}).encode(), "application/json")
        self._reply(404)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="serve.py",
        description="WS-Management (WinRM) test server standing in for a Windows Server machine.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (see server.json)")
    p.add_argument("--scheme", choices=("http", "https"), default="http")
    p.add_argument("--auth", default="ntlm",
                   help="comma list of basic,ntlm (ntlm = Negotiate with NTLM; Windows' default)")
    p.add_argument("--user", action="append", default=[], metavar="NAME:PASSWORD",
                   help="a local account (repeatable)")
    p.add_argument("--machine", default=str(DEFAULT_PROFILE), help="machine profile JSON")
    p.add_argument("--handler", default="winrm_lab.default_handler",
                   help="handler module name or .py path (see README)")
    p.add_argument("--state-dir", required=True, help="server.json, stats.json, certificates")
    p.add_argument("--allow-unencrypted", action="store_true",
                   help="accept unsealed bodies over HTTP (Windows: AllowUnencrypted=true)")
    p.add_argument("--receive-chunk", type=int, default=None, metavar="BYTES",
                   help="at most this much output per Receive (default: from MaxEnvelopeSize)")
    p.add_argument("--fault-on", default=None, metavar="OP[@N][:KIND]",
                   help="SOAP fault on that operation (every one, or the Nth); kinds: " + ", ".join(soap.FAULT_KINDS))
    p.add_argument("--slow-receive", type=float, default=0.0, metavar="SECONDS")
    p.add_argument("--reset-after", type=int, default=None, metavar="N",
                   help="reset the connection of every /wsman request after the first N")
    p.add_argument("--stop-after", type=int, default=None, metavar="N",
                   help="exit without answering when /wsman request N+1 arrives")
    p.add_argument("--lifetime", type=float, default=1800.0, metavar="SECONDS",
                   help="the server stops by itself after this long")
    cfg = p.parse_args(argv)
    cfg.auth = {a.strip().lower() for a in cfg.auth.split(",") if a.strip()}
    if not cfg.auth or not cfg.auth <= {"basic", "ntlm"}:
        p.error("--auth takes basic, ntlm or basic,ntlm")
    if not cfg.user:
        p.error("at least one --user NAME:PASSWORD is required")
    return cfg


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(sys.argv[1:] if argv is None else argv)
    state = Path(cfg.state_dir).resolve()
    state.mkdir(parents=True, exist_ok=True)

    def log(msg: str) -> None:
        sys.stderr.write(f"{time.strftime('%H:%M:%S')} {msg}\n")
        sys.stderr.flush()

    try:
        machine = load_profile(cfg.machine)
        handler = load_handler(cfg.handler, machine)
    except ProfileError as e:
        log(f"error: {e}")
        return 2
    accounts_list = []
    for spec in cfg.user:
        name, sep, password = spec.partition(":")
        if not sep or not name:
            log("error: --user takes NAME:PASSWORD")
            return 2
        accounts_list.append(auth.Account(name, password))
    accounts = auth.Accounts(accounts_list, machine["hostname"], str(state))

    faults = Faults()
    try:
        if cfg.fault_on:
            faults.soap_fault = Faults.parse_soap_fault(cfg.fault_on)
    except ValueError as e:
        log(f"error: --fault-on: {e}")
        return 2
    faults.slow_receive = cfg.slow_receive
    faults.reset_after = cfg.reset_after
    faults.stop_after = cfg.stop_after

    stats = Stats(state / "stats.json")
    host = ShellHost(handler, machine["hostname"], stats, cfg.receive_chunk)
    ssl_context, bindings, ca_file = None, None, None
    if cfg.scheme == "https":
        ca_path, cert_path, key_path = tls.generate(state / "tls", machine["hostname"])
        ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ssl_context.load_cert_chain(cert_path, key_path)
        leaf_der = ssl.PEM_cert_to_DER_cert(cert_path.read_text().split("-----END CERTIFICATE-----")[0]
                                            + "-----END CERTIFICATE-----\n")
        bindings = auth.tls_server_end_point(leaf_der)
        ca_file = str(ca_path)

    server = WsmanServer((cfg.host, cfg.port), cfg, host, accounts, stats, faults, ssl_context, bindings, log)
    port = server.server_address[1]
    info = {
        "pid": os.getpid(),
        "url": f"{cfg.scheme}://{cfg.host}:{port}/wsman",
        "scheme": cfg.scheme,
        "host": cfg.host,
        "port": port,
        "ca_file": ca_file,
        "auth": sorted(cfg.auth),
        "users": [a.name for a in accounts_list],
        "allow_unencrypted": cfg.allow_unencrypted,
        "machine": str(Path(cfg.machine).resolve()),
        "hostname": machine["hostname"],
        "handler": cfg.handler,
        "stats_file": str(stats.path),
        "stats_url": f"{cfg.scheme}://{cfg.host}:{port}/vmcert-test/stats",
    }
    stats.write()
    tmp = state / "server.json.tmp"
    tmp.write_text(json.dumps(info, indent=1), encoding="utf-8")
    os.replace(tmp, state / "server.json")
    print(json.dumps(info), flush=True)
    log(f"listening on {info['url']} (auth {','.join(sorted(cfg.auth))}, machine {machine['hostname']})")

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    timer = threading.Timer(cfg.lifetime, stop)
    timer.daemon = True
    timer.start()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        stats.write()
        log("stopped")
    return 0
