"""The pluggable command interface between the WS-Man server and the "Windows machine" behind it.

Why this module exists: the server speaks the protocol but runs nothing. What a command prints
is decided by a handler module, chosen at start (`--handler`), that reads a machine profile
(`--machine PROFILE.json`, a data description of one Windows Server). The default handler
proves the protocol; a richer one answers vmcert's PowerShell probe script from the same
profile. The contract is documented in tests/winrm/README.md ("Handler interface").

A handler module defines one function::

    def create_handler(machine: dict) -> Handler

where `machine` is the parsed profile and the returned object has two methods::

    reads_stdin(inv: Invocation) -> bool   # True: run() waits for the stdin stream's End="true"
    run(inv: Invocation) -> Result         # what the process prints, when, and its exit code

`run` is called once per command: at Command time, or when stdin ends if `reads_stdin` said
so. It must be a pure function of its arguments (no sleeping: time is expressed by the
`at`/`duration` fields of the result and played back by the server, Receive by Receive).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

PROFILE_SCHEMA = "vmcert-winrm-machine/1"


@dataclass(frozen=True)
class Invocation:
    """One command as the client started it in a cmd shell."""

    command: str
    """The rsp:Command text (pywinrm puts the whole command line here)."""
    arguments: tuple[str, ...]
    """The rsp:Arguments elements in order (winrm-rs sends one per argument)."""
    command_line: str
    """What Windows hands to CreateProcess: command and arguments joined by single spaces."""
    argv: tuple[str, ...]
    """command_line split with the CommandLineToArgvW rules (quotes, backslashes)."""
    stdin: bytes
    """Everything the client sent on stdin up to End="true" (empty unless reads_stdin)."""
    user: str
    """The account the client authenticated as, as the client wrote it (`vagrant`, `HOST\\vagrant`)."""
    codepage: int
    """The shell's WINRS_CODEPAGE (437 unless the client chose another; 65001 is UTF-8)."""
    skip_cmd_shell: bool
    """WINRS_SKIP_CMD_SHELL: True runs the program directly instead of through `cmd.exe /c`."""
    working_directory: str | None = None
    environment: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Output:
    """One write of the process to stdout or stderr, `at` seconds after it started.

    `data` as str is console text: the server encodes it with the shell's code page, as a
    Windows console program's output is. bytes are sent unchanged.
    """

    stream: str
    data: str | bytes
    at: float = 0.0


@dataclass(frozen=True)
class Result:
    """The whole life of one process: its writes, its exit code and when it exits."""

    exit_code: int
    outputs: tuple[Output, ...] = ()
    duration: float = 0.0
    """Seconds from start to exit; the exit is never earlier than the last write."""

    @classmethod
    def text(cls, stdout: str = "", stderr: str = "", exit_code: int = 0) -> Result:
        """A process that prints everything at once and exits immediately."""
        outs = []
        if stdout:
            outs.append(Output("stdout", stdout))
        if stderr:
            outs.append(Output("stderr", stderr))
        return cls(exit_code=exit_code, outputs=tuple(outs))

    def exit_time(self) -> float:
        """When the process exits, in seconds after its start."""
        return max([self.duration] + [o.at for o in self.outputs])


class Handler(Protocol):
    """What `create_handler(machine)` returns."""

    def reads_stdin(self, inv: Invocation) -> bool:
        """Whether the program reads stdin to its end before it produces its result."""

    def run(self, inv: Invocation) -> Result:
        """Runs the command against the machine profile."""


def split_command_line(line: str) -> tuple[str, ...]:
    """CommandLineToArgvW: whitespace separates, "..." groups, 2n backslashes before a quote
    are n backslashes, 2n+1 are n and a literal quote; other backslashes are literal."""
    args: list[str] = []
    cur: list[str] = []
    in_quotes = False
    have_arg = False
    i = 0
    while i < len(line):
        c = line[i]
        if c == "\\":
            j = i
            while j < len(line) and line[j] == "\\":
                j += 1
            n = j - i
            if j < len(line) and line[j] == '"':
                cur.append("\\" * (n // 2))
                if n % 2:
                    cur.append('"')
                    i = j + 1
                else:
                    i = j
            else:
                cur.append("\\" * n)
                i = j
            have_arg = True
            continue
        if c == '"':
            if in_quotes and i + 1 < len(line) and line[i + 1] == '"':
                cur.append('"')
                i += 2
                continue
            in_quotes = not in_quotes
            have_arg = True
        elif c in " \t" and not in_quotes:
            if have_arg:
                args.append("".join(cur))
                cur, have_arg = [], False
        else:
            cur.append(c)
            have_arg = True
        i += 1
    if have_arg:
        args.append("".join(cur))
    return tuple(args)


class ProfileError(Exception):
    """The machine profile is missing or does not follow the schema."""


REQUIRED = {
    "schema": str,
    "hostname": str,
    "os": dict,
    "features": list,
    "services": list,
    "registry": list,
    "disks": list,
    "volumes": list,
    "files": list,
    "hotfixes": list,
    "pending_updates": list,
    "network": dict,
    "local_users": list,
}
REQUIRED_OS = ("caption", "version", "build_number", "os_architecture")


def load_profile(path: str | Path) -> dict:
    """Reads and checks a machine profile; every problem is one ProfileError sentence."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ProfileError(f"machine profile {p} does not exist") from e
    except json.JSONDecodeError as e:
        raise ProfileError(f"machine profile {p} is not JSON: {e}") from e
    if not isinstance(data, dict):
        raise ProfileError(f"machine profile {p}: top level must be an object")
    for key, typ in REQUIRED.items():
        if not isinstance(data.get(key), typ):
            raise ProfileError(f"machine profile {p}: `{key}` missing or not a {typ.__name__}")
    if data["schema"] != PROFILE_SCHEMA:
        raise ProfileError(f"machine profile {p}: schema is {data['schema']!r}, expected {PROFILE_SCHEMA!r}")
    for key in REQUIRED_OS:
        if not isinstance(data["os"].get(key), str):
            raise ProfileError(f"machine profile {p}: `os.{key}` missing or not a string")
    return data


def load_handler(spec: str, machine: dict) -> Handler:
    """Imports a handler by module name (`winrm_lab.default_handler`) or file path and creates it."""
    if spec.endswith(".py") or "/" in spec:
        path = Path(spec).resolve()
        if not path.is_file():
            raise ProfileError(f"handler module {spec} does not exist")
        mod_spec = importlib.util.spec_from_file_location(f"vmcert_handler_{path.stem}", path)
        if mod_spec is None or mod_spec.loader is None:
            raise ProfileError(f"handler module {spec} cannot be loaded")
        module = importlib.util.module_from_spec(mod_spec)
        sys.modules[mod_spec.name] = module
        mod_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(spec)
    factory = getattr(module, "create_handler", None)
    if not callable(factory):
        raise ProfileError(f"handler module {spec} has no create_handler(machine) function")
    return factory(machine)
