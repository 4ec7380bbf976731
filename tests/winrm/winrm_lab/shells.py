"""Windows Remote Shell state: shells, commands, stdin, and output played back Receive by Receive.

Why this module exists: a client is only tested if the server keeps the same state machine as
Windows: a shell per Create, a command per Command, stdin that may arrive in several Send
requests, output that becomes ready over time (so a Receive may answer Running, or fault with
w:TimedOut after OperationTimeout when nothing is ready), and ids that stop existing after
Signal terminate or Delete. Process output is decided by the pluggable handler (machine.py).
"""

from __future__ import annotations

import base64
import codecs
import threading
import time
import traceback
from dataclasses import dataclass, field

from . import soap
from .machine import Handler, Invocation, Result, split_command_line

# Exit code of a console program stopped by Ctrl+C: STATUS_CONTROL_C_EXIT (0xC000013A).
CTRL_C_EXIT = -1073741510


def codec_for(codepage: int) -> str | None:
    """The Python codec for a Windows code page, or None when there is none."""
    name = "utf-8" if codepage == 65001 else f"cp{codepage}"
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


@dataclass
class Chunk:
    stream: str
    data: bytes
    at: float  # absolute time.monotonic() when the process wrote it


@dataclass
class Command:
    id: str
    shell: Shell
    command: str
    arguments: tuple[str, ...]
    skip_cmd_shell: bool = False
    stdin: bytearray = field(default_factory=bytearray)
    stdin_closed: bool = False
    waits_for_stdin: bool = False
    started: float | None = None  # set when the handler ran
    pending: list[Chunk] = field(default_factory=list)  # not yet delivered, ordered by `at`
    exit_code: int | None = None
    exit_at: float | None = None
    done_sent: bool = False


@dataclass
class Shell:
    id: str
    owner: str
    resource_uri: str
    codepage: int
    codec: str
    noprofile: bool
    working_directory: str | None
    environment: dict[str, str]
    input_streams: str
    output_streams: str
    created: float
    commands: dict[str, Command] = field(default_factory=dict)


class ShellHost:
    """All shells of the server; one lock, one condition for every state change."""

    def __init__(self, handler: Handler, machine_name: str, stats, receive_chunk: int | None):
        self.handler = handler
        self.machine_name = machine_name
        self.stats = stats
        self.receive_chunk = receive_chunk
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.shells: dict[str, Shell] = {}

    # ---- lookups (lock held) ------------------------------------------------------------

    def _shell(self, req: soap.Request) -> Shell:
        sid = req.selectors.get("ShellId", "")
        shell = self.shells.get(sid)
        # Windows matches the ShellId exactly and the ResourceURI must be the shell's own.
        if shell is None or shell.resource_uri != req.resource_uri:
            raise soap.FaultError(soap.unknown_shell(sid))
        return shell

    @staticmethod
    def _command(shell: Shell, command_id: str | None) -> Command:
        cmd = shell.commands.get(command_id or "")
        if cmd is None:
            raise soap.FaultError(soap.unknown_command())
        return cmd

    # ---- operations ---------------------------------------------------------------------

    def create(self, req: soap.Request, user: str, host_header: str, scheme: str) -> str:
        if req.resource_uri != soap.CMD_SHELL_URI:
            raise soap.FaultError(soap.resource_not_found())
        body = req.body
        if body is None or body.tag != f"{{{soap.SHELL_NS}}}Shell":
            raise soap.MalformedRequest("Create without rsp:Shell")
        try:
            codepage = int(req.options.get("WINRS_CODEPAGE", "437"))
        except ValueError as e:
            raise soap.FaultError(soap.code_page_not_supported()) from e
        codec = codec_for(codepage)
        if codec is None:
            raise soap.FaultError(soap.code_page_not_supported())
        env = {
            v.get("Name", ""): v.text or ""
            for v in body.findall("rsp:Environment/rsp:Variable", soap.NS)
        }
        shell = Shell(
            id=soap.new_uuid(),
            owner=user,
            resource_uri=req.resource_uri,
            codepage=codepage,
            codec=codec,
            noprofile=req.options.get("WINRS_NOPROFILE", "FALSE").upper() == "TRUE",
            working_directory=body.findtext("rsp:WorkingDirectory", None, soap.NS),
            environment=env,
            input_streams=(body.findtext("rsp:InputStreams", "stdin", soap.NS) or "stdin").strip(),
            output_streams=(body.findtext("rsp:OutputStreams", "stdout stderr", soap.NS) or "").strip(),
            created=time.monotonic(),
        )
        with self.lock:
            self.shells[shell.id] = shell
            self.stats.shell_opened()
        idle = "PT7200.000S"
        return (
            f"<x:ResourceCreated><a:Address>{scheme}://{soap.escape(host_header)}/wsman</a:Address>"
            f"<a:ReferenceParameters><w:ResourceURI>{shell.resource_uri}</w:ResourceURI>"
            f'<w:SelectorSet><w:Selector Name="ShellId">{shell.id}</w:Selector></w:SelectorSet>'
            f"</a:ReferenceParameters></x:ResourceCreated>"
            f'<rsp:Shell xmlns:rsp="{soap.SHELL_NS}"><rsp:ShellId>{shell.id}</rsp:ShellId>'
            f"<rsp:ResourceUri>{shell.resource_uri}</rsp:ResourceUri>"
            f"<rsp:Owner>{soap.escape(user)}</rsp:Owner><rsp:ClientIP>127.0.0.1</rsp:ClientIP>"
            f"<rsp:IdleTimeOut>{idle}</rsp:IdleTimeOut>"
            f"<rsp:InputStreams>{soap.escape(shell.input_streams)}</rsp:InputStreams>"
            f"<rsp:OutputStreams>{soap.escape(shell.output_streams)}</rsp:OutputStreams>"
            f"<rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime>"
            f"<rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity></rsp:Shell>"
        )

    def delete(self, req: soap.Request) -> str:
        with self.lock:
            shell = self._shell(req)
            del self.shells[shell.id]
            self.stats.shell_closed()
            self.changed.notify_all()
        return ""

    def command(self, req: soap.Request, user: str) -> str:
        body = req.body
        if body is None or body.tag != f"{{{soap.SHELL_NS}}}CommandLine":
            raise soap.MalformedRequest("Command without rsp:CommandLine")
        text = (body.findtext("rsp:Command", "", soap.NS) or "").strip()
        args = tuple((a.text or "") for a in body.findall("rsp:Arguments", soap.NS))
        skip_cmd = req.options.get("WINRS_SKIP_CMD_SHELL", "FALSE").upper() == "TRUE"
        with self.lock:
            shell = self._shell(req)
            cmd = Command(soap.new_uuid(), shell, text, args, skip_cmd_shell=skip_cmd)
            inv = self._invocation(cmd, user)
            cmd.waits_for_stdin = bool(self.handler.reads_stdin(inv))
            shell.commands[cmd.id] = cmd
            self.stats.command_started(inv.command_line)
            if not cmd.waits_for_stdin:
                self._start(cmd, inv)
        return f"<rsp:CommandResponse><rsp:CommandId>{cmd.id}</rsp:CommandId></rsp:CommandResponse>"

    def send(self, req: soap.Request, user: str) -> str:
        body = req.body
        if body is None or body.tag != f"{{{soap.SHELL_NS}}}Send":
            raise soap.MalformedRequest("Send without rsp:Send")
        with self.lock:
            shell = self._shell(req)
            for st in body.findall("rsp:Stream", soap.NS):
                cmd = self._command(shell, st.get("CommandId"))
                if st.get("Name", "stdin") != "stdin" or cmd.stdin_closed:
                    continue
                data = base64.b64decode((st.text or "").strip()) if st.text else b""
                cmd.stdin += data
                self.stats.stdin(len(data))
                if (st.get("End") or "").lower() == "true":
                    cmd.stdin_closed = True
                    if cmd.waits_for_stdin and cmd.started is None:
                        self._start(cmd, self._invocation(cmd, user))
            self.changed.notify_all()
        return "<rsp:SendResponse/>"

    def signal(self, req: soap.Request) -> str:
        body = req.body
        if body is None or body.tag != f"{{{soap.SHELL_NS}}}Signal":
            raise soap.MalformedRequest("Signal without rsp:Signal")
        code = (body.findtext("rsp:Code", "", soap.NS) or "").strip()
        with self.lock:
            shell = self._shell(req)
            cmd = self._command(shell, body.get("CommandId"))
            now = time.monotonic()
            if code == soap.SIGNAL_TERMINATE:
                del shell.commands[cmd.id]
            elif code == soap.SIGNAL_CTRL_C and (cmd.exit_at is None or cmd.exit_at > now):
                # The process dies now: what it already wrote stays readable, the rest never comes.
                cmd.pending = [c for c in cmd.pending if c.at <= now]
                cmd.exit_code, cmd.exit_at = CTRL_C_EXIT, now
                cmd.stdin_closed = True
            self.changed.notify_all()
        return "<rsp:SignalResponse/>"

    def receive(self, req: soap.Request, extra_delay: float) -> str:
        """Waits until output is ready or the command is done; TimedOut after OperationTimeout."""
        body = req.body
        if body is None or body.tag != f"{{{soap.SHELL_NS}}}Receive":
            raise soap.MalformedRequest("Receive without rsp:Receive")
        desired = body.find("rsp:DesiredStream", soap.NS)
        command_id = desired.get("CommandId") if desired is not None else None
        deadline = time.monotonic() + req.operation_timeout
        if extra_delay:
            # The slow-Receive knob: the answer is held back, as a loaded host would; held back
            # past OperationTimeout it becomes the TimedOut fault.
            time.sleep(min(extra_delay, req.operation_timeout))
            if extra_delay >= req.operation_timeout:
                raise soap.FaultError(soap.timed_out())
        budget = self.receive_chunk or max(1024, (req.max_envelope_size - 4096) * 3 // 4)
        with self.lock:
            shell = self._shell(req)
            cmd = self._command(shell, command_id)
            while True:
                now = time.monotonic()
                ready = [c for c in cmd.pending if c.at <= now]
                finished = cmd.exit_at is not None and cmd.exit_at <= now
                if ready or (finished and not cmd.done_sent) or (cmd.done_sent and not cmd.pending):
                    break
                if now >= deadline:
                    raise soap.FaultError(soap.timed_out())
                wake = deadline
                upcoming = [c.at for c in cmd.pending if c.at > now]
                if upcoming:
                    wake = min(wake, min(upcoming))
                if cmd.exit_at is not None and cmd.exit_at > now:
                    wake = min(wake, cmd.exit_at)
                self.changed.wait(max(0.0, wake - now))
                if self.shells.get(shell.id) is not shell or shell.commands.get(cmd.id) is not cmd:
                    raise soap.FaultError(soap.unknown_command())
            parts: list[str] = []
            used = 0
            while cmd.pending and cmd.pending[0].at <= now and used < budget:
                chunk = cmd.pending[0]
                take = chunk.data[: budget - used]
                rest = chunk.data[len(take) :]
                if rest:
                    cmd.pending[0] = Chunk(chunk.stream, rest, chunk.at)
                else:
                    cmd.pending.pop(0)
                used += len(take)
                self.stats.output(chunk.stream, len(take))
                parts.append(soap.stream(chunk.stream, cmd.id, take))
            if finished and not cmd.pending:
                parts.append(soap.stream("stdout", cmd.id, None, end=True))
                parts.append(soap.stream("stderr", cmd.id, None, end=True))
                cmd.done_sent = True
                state = (
                    f'<rsp:CommandState CommandId="{cmd.id}" State="{soap.STATE_DONE}">'
                    f"<rsp:ExitCode>{cmd.exit_code}</rsp:ExitCode></rsp:CommandState>"
                )
            else:
                state = f'<rsp:CommandState CommandId="{cmd.id}" State="{soap.STATE_RUNNING}"/>'
        return f"<rsp:ReceiveResponse>{''.join(parts)}{state}</rsp:ReceiveResponse>"

    # ---- helpers (lock held) ------------------------------------------------------------

    def _invocation(self, cmd: Command, user: str) -> Invocation:
        line = " ".join([cmd.command, *cmd.arguments]).strip()
        return Invocation(
            command=cmd.command,
            arguments=cmd.arguments,
            command_line=line,
            argv=split_command_line(line),
            stdin=bytes(cmd.stdin) if cmd.stdin_closed else b"",
            user=user,
            codepage=cmd.shell.codepage,
            skip_cmd_shell=cmd.skip_cmd_shell,
            working_directory=cmd.shell.working_directory,
            environment=dict(cmd.shell.environment),
        )

    def _start(self, cmd: Command, inv: Invocation) -> None:
        try:
            result = self.handler.run(inv)
            if not isinstance(result, Result):
                raise TypeError(f"run() returned {type(result).__name__}, not machine.Result")
        except Exception as e:  # a broken handler is a test bug: fault loudly, keep serving
            traceback.print_exc()
            del cmd.shell.commands[cmd.id]
            raise soap.FaultError(soap.handler_failed(f"vmcert test handler failed on {inv.command_line!r}: {e!r}")) from e
        now = time.monotonic()
        cmd.started = now
        chunks = []
        for out in sorted(result.outputs, key=lambda o: o.at):
            if out.stream not in ("stdout", "stderr"):
                raise soap.FaultError(soap.handler_failed(f"handler wrote to unknown stream {out.stream!r}"))
            data = out.data.encode(cmd.shell.codec, errors="replace") if isinstance(out.data, str) else out.data
            if data:
                chunks.append(Chunk(out.stream, data, now + out.at))
        cmd.pending = chunks
        cmd.exit_code = result.exit_code
        cmd.exit_at = now + result.exit_time()
        self.changed.notify_all()

    def open_shells(self) -> int:
        with self.lock:
            return len(self.shells)
