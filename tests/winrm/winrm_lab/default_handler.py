"""The default command handler: just enough of a Windows Server to prove the protocol.

Why this module exists: the server needs something behind it before the handler that answers
vmcert's PowerShell probe script is written. This one answers `hostname`, `whoami`,
`ipconfig`, `cmd /c echo`, and `powershell` with -EncodedCommand (UTF-16LE base64), -Command
TEXT or -Command - (script on stdin) for a few simple statements, all from the machine
profile. Any other program gets cmd.exe's "is not recognized" error and exit code 1. Programs
and cmdlets that exist on Windows but are not emulated here say so on stderr (exit 1) instead of
pretending to be absent. Its output shapes are Windows' own (see tests/winrm/README.md).
"""

from __future__ import annotations

import base64
import re

from .machine import Invocation, Output, Result

CRLF = "\r\n"


def create_handler(machine: dict) -> DefaultHandler:
    """The handler entry point (see machine.py)."""
    return DefaultHandler(machine)


def not_recognized(name: str) -> Result:
    """cmd.exe's answer to a program it cannot find."""
    return Result.text(
        stderr=f"'{name}' is not recognized as an internal or external command,{CRLF}"
        f"operable program or batch file.{CRLF}",
        exit_code=1,
    )


def not_emulated(what: str) -> Result:
    """A program that exists on Windows but that this handler does not play."""
    return Result.text(stderr=f"vmcert test machine: the default handler does not emulate `{what}`{CRLF}", exit_code=1)


def _split_statements(script: str) -> list[tuple[int, str]]:
    """PowerShell statements with their line numbers: split at newlines and at ; outside quotes."""
    out: list[tuple[int, str]] = []
    for lineno, line in enumerate(script.splitlines(), start=1):
        cur, quote = [], None
        for ch in line:
            if quote:
                cur.append(ch)
                if ch == quote:
                    quote = None
            elif ch in "'\"":
                quote = ch
                cur.append(ch)
            elif ch == ";":
                out.append((lineno, "".join(cur).strip()))
                cur = []
            elif ch == "#":
                break
            else:
                cur.append(ch)
        out.append((lineno, "".join(cur).strip()))
    return [(n, s) for n, s in out if s]


class DefaultHandler:
    """Answers a handful of commands from the machine profile."""

    def __init__(self, machine: dict):
        self.m = machine

    # ---- handler interface --------------------------------------------------------------

    def reads_stdin(self, inv: Invocation) -> bool:
        ps = self._powershell_args(self._program_argv(inv.argv))
        return ps is not None and ps.get("stdin", False)

    def run(self, inv: Invocation) -> Result:
        argv = self._program_argv(inv.argv)
        if not argv:
            return Result.text()
        if argv[0].lower() == "echo":
            # cmd's echo prints the rest of the line as typed.
            rest = inv.command_line[inv.command_line.lower().index("echo") + 4 :]
            return Result.text((rest[1:] if rest.strip() else "ECHO is on.") + CRLF)
        if re.fullmatch(r"(?i)(.*\\)?(powershell|pwsh)(\.exe)?", argv[0]):
            ps = self._powershell_args(argv)
            if ps is None:
                return not_emulated(" ".join(argv))
            if ps.get("stdin"):
                script = inv.stdin.decode(_codec(inv.codepage), errors="replace").lstrip("\ufeff")
            else:
                script = ps["script"]
            return self._powershell(script, inv)
        return self._program(argv, inv) or not_recognized(argv[0])

    def _program(self, argv: tuple[str, ...], inv: Invocation) -> Result | None:
        """The external programs this handler plays (also callable from PowerShell)."""
        base = re.sub(r"(?i)\.(exe|com)$", "", argv[0].replace("/", "\\").rsplit("\\", 1)[-1]).lower()
        if base == "hostname":
            return Result.text(self.m["hostname"] + CRLF)
        if base == "whoami":
            if len(argv) > 1:
                return not_emulated(" ".join(argv))
            return Result.text(f"{self.m['hostname'].lower()}\\{self._user(inv).lower()}{CRLF}")
        if base == "ipconfig":
            if len(argv) > 1:
                return not_emulated(" ".join(argv))
            return Result.text(self._ipconfig())
        return None

    # ---- commands -----------------------------------------------------------------------

    @staticmethod
    def _program_argv(argv: tuple[str, ...]) -> tuple[str, ...]:
        """Strips `cmd /c` (how WinRS runs a command unless WINRS_SKIP_CMD_SHELL is set)."""
        if len(argv) >= 2 and re.fullmatch(r"(?i)cmd(\.exe)?", argv[0]) and argv[1].lower() in ("/c", "/k"):
            return argv[2:]
        return argv

    @staticmethod
    def _user(inv: Invocation) -> str:
        return re.split(r"[\\@]", inv.user)[-1 if "\\" in inv.user else 0]

    def _ipconfig(self) -> str:
        lines = ["", "Windows IP Configuration", "", ""]
        for a in self.m["network"]["adapters"]:
            lines += [f"Ethernet adapter {a['name']}:", ""]
            lines.append(f"   Connection-specific DNS Suffix  . : {a.get('dns_suffix', '')}")
            for v6 in a.get("ipv6_addresses", []):
                lines.append(f"   IPv6 Address. . . . . . . . . . . : {v6}")
            if a.get("ipv6_link_local"):
                lines.append(f"   Link-local IPv6 Address . . . . . : {a['ipv6_link_local']}")
            lines.append(f"   IPv4 Address. . . . . . . . . . . : {a['ipv4_address']}")
            lines.append(f"   Subnet Mask . . . . . . . . . . . : {a['ipv4_mask']}")
            lines.append(f"   Default Gateway . . . . . . . . . : {a.get('ipv4_gateway', '')}")
        return CRLF.join(lines) + CRLF

    @staticmethod
    def _powershell_args(argv: tuple[str, ...]) -> dict | None:
        """What powershell.exe would run: {"script": text} or {"stdin": True}; None if unsupported."""
        if not argv or not re.fullmatch(r"(?i)(.*\\)?(powershell|pwsh)(\.exe)?", argv[0]):
            return None
        i = 1
        while i < len(argv):
            a = argv[i].lower()
            if a in ("-noprofile", "-nop", "-noninteractive", "-noni", "-nologo", "-sta", "-mta"):
                i += 1
            elif a in ("-executionpolicy", "-ep", "-ex", "-inputformat", "-outputformat", "-windowstyle", "-w"):
                i += 2
            elif a in ("-encodedcommand", "-enc", "-e", "-ec"):
                if i + 1 >= len(argv):
                    return None
                try:
                    return {"script": base64.b64decode(argv[i + 1]).decode("utf-16-le")}
                except ValueError:
                    return None
            elif a in ("-command", "-c"):
                rest = argv[i + 1 :]
                if rest == ("-",):
                    return {"stdin": True}
                return {"script": " ".join(rest)}
            elif a == "-":
                return {"stdin": True}
            else:
                return {"script": " ".join(argv[i:])}
        return {"stdin": True}

    def _powershell(self, script: str, inv: Invocation) -> Result:
        """A few PowerShell statements: literals, Write-Output, a handful of variables and
        WMI properties, Start-Sleep (output time advances), exit."""
        outputs: list[Output] = []
        t = 0.0
        ok = True
        for lineno, stmt in _split_statements(script):
            m = re.fullmatch(r"(?i)exit(?:\s+(-?\d+))?", stmt)
            if m:
                return Result(int(m.group(1) or 0), tuple(outputs), t)
            m = re.fullmatch(r"(?i)start-sleep(?:\s+-(seconds|s|milliseconds|m))?\s+(\d+(?:\.\d+)?)", stmt)
            if m:
                unit = (m.group(1) or "s").lower()
                t += float(m.group(2)) / (1000.0 if unit.startswith("m") else 1.0)
                ok = True
                continue
            m = re.fullmatch(r"(?i)(?:write-output|write-host|echo)\s+(.+)", stmt)
            value = self._ps_value(m.group(1) if m else stmt, inv)
            if value is not None:
                outputs.append(Output("stdout", value + CRLF, t))
                ok = True
                continue
            word = stmt.split()[0]
            program = self._program(tuple(stmt.split()), inv)
            if program is not None:
                outputs += [Output(o.stream, o.data, t + o.at) for o in program.outputs]
                ok = program.exit_code == 0
                continue
            if re.fullmatch(r"[A-Za-z]+-[A-Za-z]+", word):
                outputs.append(Output("stderr", f"vmcert test machine: the default handler does not emulate `{stmt}`{CRLF}", t))
            else:
                outputs.append(Output("stderr", _term_not_recognized(word, stmt, lineno), t))
            ok = False
        return Result(0 if ok else 1, tuple(outputs), t)

    def _ps_value(self, expr: str, inv: Invocation) -> str | None:
        expr = expr.strip()
        if re.fullmatch(r"'(?:[^']|'')*'", expr):
            return expr[1:-1].replace("''", "'")
        if re.fullmatch(r'"[^"`$]*"', expr):
            return expr[1:-1]
        if re.fullmatch(r"-?\d+", expr):
            return str(int(expr))
        os_ = self.m["os"]
        ps_version = os_.get("powershell_version", "5.1")
        simple = {
            "$psversiontable.psversion.major": ps_version.split(".")[0],
            "$psversiontable.psversion.minor": ps_version.split(".")[1],
            "$psversiontable.psversion.tostring()": ps_version,
            "$env:computername": self.m["hostname"],
            "$env:username": self._user(inv),
            "hostname": self.m["hostname"],
        }
        if expr.lower() in simple:
            return simple[expr.lower()]
        m = re.fullmatch(
            r"(?i)\(\s*get-(?:cim|wmi)(?:instance|object)\s+(?:-classname\s+|-class\s+)?win32_operatingsystem\s*\)\.(\w+)",
            expr,
        )
        if m:
            props = {
                "caption": os_["caption"],
                "version": os_["version"],
                "buildnumber": os_["build_number"],
                "osarchitecture": os_["os_architecture"],
                "csname": self.m["hostname"],
            }
            return props.get(m.group(1).lower())
        return None


def _term_not_recognized(word: str, stmt: str, lineno: int) -> str:
    """PowerShell 5.1's CommandNotFoundException record, as plain text (not CLIXML)."""
    return (
        f"{word} : The term '{word}' is not recognized as the name of a cmdlet, function, script file, or "
        f"operable program. Check the spelling of the name, or if a path was included, verify that the path "
        f"is correct and try again.{CRLF}"
        f"At line:{lineno} char:1{CRLF}"
        f"+ {stmt}{CRLF}"
        f"+ {'~' * len(word)}{CRLF}"
        f"    + CategoryInfo          : ObjectNotFound: ({word}:String) [], CommandNotFoundException{CRLF}"
        f"    + FullyQualifiedErrorId : CommandNotFoundException{CRLF}"
        f" {CRLF}"
    )


def _codec(codepage: int) -> str:
    return "utf-8" if codepage == 65001 else f"cp{codepage}"
