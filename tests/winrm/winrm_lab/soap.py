"""WS-Management SOAP 1.2 envelopes as Windows Server writes them.

Why this module exists: clients are only proven against a stand-in for Windows if the stand-in
answers with Windows' own envelope shapes and fault texts. The shapes and the fault sentences
below are copied from responses recorded against real Windows hosts (pypsrp's
tests/responses/test_winrs_*.yml and pywinrm's tests), not made up.
"""

from __future__ import annotations

import base64
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "p": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "e": "http://schemas.xmlsoap.org/ws/2004/08/eventing",
    "n": "http://schemas.xmlsoap.org/ws/2004/09/enumeration",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
}

CMD_SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
SHELL_NS = NS["rsp"]
TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
FAULT_ACTION = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"

# Action URI -> short operation name used in stats, fault knobs and dispatch.
ACTIONS = {
    TRANSFER + "Create": "Create",
    TRANSFER + "Delete": "Delete",
    SHELL_NS + "/Command": "Command",
    SHELL_NS + "/Send": "Send",
    SHELL_NS + "/Receive": "Receive",
    SHELL_NS + "/Signal": "Signal",
}
OPERATIONS = tuple(ACTIONS.values())

SIGNAL_TERMINATE = SHELL_NS + "/signal/terminate"
SIGNAL_CTRL_C = SHELL_NS + "/signal/ctrl_c"
STATE_DONE = SHELL_NS + "/CommandState/Done"
STATE_RUNNING = SHELL_NS + "/CommandState/Running"


class MalformedRequest(Exception):
    """The body is not a WS-Management envelope this server can read."""


@dataclass
class Request:
    """The parts of a WS-Management request the shell operations need."""

    action: str
    operation: str | None
    message_id: str
    resource_uri: str
    selectors: dict[str, str]
    options: dict[str, str]
    operation_timeout: float
    max_envelope_size: int
    body: ET.Element | None
    root: ET.Element = field(repr=False)


def _duration_seconds(text: str | None, default: float) -> float:
    """xs:duration as WS-Man sends it: PT60S, PT20.000S, P0DT0H1M0S."""
    if not text:
        return default
    m = re.fullmatch(
        r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?", text.strip()
    )
    if not m:
        return default
    d, h, mi, s = m.groups()
    return int(d or 0) * 86400 + int(h or 0) * 3600 + int(mi or 0) * 60 + float(s or 0)


def parse_request(data: bytes) -> Request:
    """Parses one SOAP envelope; raises MalformedRequest when it is not one."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        raise MalformedRequest(f"not XML: {e}") from e
    header = root.find("s:Header", NS)
    body_el = root.find("s:Body", NS)
    if header is None or root.tag != f"{{{NS['s']}}}Envelope":
        raise MalformedRequest("not a SOAP 1.2 envelope")
    action = (header.findtext("a:Action", "", NS) or "").strip()
    selectors = {
        s.get("Name", ""): (s.text or "").strip()
        for s in header.findall("w:SelectorSet/w:Selector", NS)
    }
    options = {
        o.get("Name", ""): (o.text or "").strip()
        for o in header.findall("w:OptionSet/w:Option", NS)
    }
    try:
        max_env = int(header.findtext("w:MaxEnvelopeSize", "153600", NS) or 153600)
    except ValueError:
        max_env = 153600
    body = body_el[0] if body_el is not None and len(body_el) else None
    return Request(
        action=action,
        operation=ACTIONS.get(action),
        message_id=(header.findtext("a:MessageID", "", NS) or "").strip(),
        resource_uri=(header.findtext("w:ResourceURI", "", NS) or "").strip(),
        selectors=selectors,
        options=options,
        operation_timeout=_duration_seconds(header.findtext("w:OperationTimeout", None, NS), 60.0),
        max_envelope_size=max_env,
        body=body,
        root=root,
    )


def new_uuid() -> str:
    """An upper-case GUID, the form Windows uses for ShellId, CommandId and MessageID."""
    return str(uuid.uuid4()).upper()


def envelope(action: str, relates_to: str, body: str, *, with_shell_ns: bool = True) -> bytes:
    """A response envelope with Windows' header order: Action, MessageID, To, RelatesTo."""
    ns = ["s", "a", "x", "w"] + (["rsp"] if with_shell_ns else []) + ["p"]
    decl = " ".join(f'xmlns:{k}="{NS[k]}"' for k in ns)
    return (
        f'<s:Envelope xml:lang="en-US" {decl}><s:Header>'
        f"<a:Action>{escape(action)}</a:Action>"
        f"<a:MessageID>uuid:{new_uuid()}</a:MessageID>"
        f"<a:To>{ANONYMOUS}</a:To>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>"
        f"</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


@dataclass(frozen=True)
class Fault:
    """A WS-Management fault: SOAP code, WS-Man subcode, reason and the Windows WSManFault detail."""

    code: str
    subcode: str
    reason: str
    wsman_code: int
    message: str
    fault_detail: str | None = None

    def to_envelope(self, relates_to: str, machine: str) -> bytes:
        """The fault envelope (HTTP 500) as Windows sends it."""
        detail = ""
        if self.fault_detail:
            detail += f"<w:FaultDetail>{escape(self.fault_detail)}</w:FaultDetail>"
        detail += (
            f'<f:WSManFault xmlns:f="{NS["f"]}" Code="{self.wsman_code}" Machine={quoteattr(machine)}>'
            f"<f:Message>{escape(self.message)}</f:Message></f:WSManFault>"
        )
        decl = " ".join(f'xmlns:{k}="{NS[k]}"' for k in ("s", "a", "x", "e", "n", "w", "p"))
        return (
            f'<s:Envelope xml:lang="en-US" {decl}><s:Header>'
            f"<a:Action>{FAULT_ACTION}</a:Action>"
            f"<a:MessageID>uuid:{new_uuid()}</a:MessageID>"
            f"<a:To>{ANONYMOUS}</a:To>"
            f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>"
            f"</s:Header><s:Body><s:Fault>"
            f"<s:Code><s:Value>{self.code}</s:Value><s:Subcode><s:Value>{self.subcode}</s:Value></s:Subcode></s:Code>"
            f'<s:Reason><s:Text xml:lang="en-US">{escape(self.reason)}</s:Text></s:Reason>'
            f"<s:Detail>{detail}</s:Detail></s:Fault></s:Body></s:Envelope>"
        ).encode()


class FaultError(Exception):
    """Raised by an operation to answer with `fault`."""

    def __init__(self, fault: Fault):
        super().__init__(fault.message)
        self.fault = fault


_TIMED_OUT = "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  "
_INVALID_SELECTORS = "The WS-Management service cannot process the request because the request contained invalid selectors for the resource. "


def timed_out() -> Fault:
    """Receive with no output before OperationTimeout (MS-WSMV 3.1.4.14: WSManFault 2150858793)."""
    return Fault("s:Receiver", "w:TimedOut", _TIMED_OUT, 2150858793, _TIMED_OUT)


def unknown_command() -> Fault:
    """An operation on a CommandId the shell does not have (recorded from Windows)."""
    return Fault(
        "s:Sender",
        "w:InvalidSelectors",
        _INVALID_SELECTORS,
        2150858843,
        "The Windows Remote Shell received a request to perform an operation on a command identifier that "
        "does not exist. Either the command has completed execution or the client specified an invalid "
        "command identifier. ",
        fault_detail="http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/UnexpectedSelectors",
    )


def unknown_shell(shell_id: str) -> Fault:
    """An operation on a ShellId the server does not have (or under another ResourceURI)."""
    return Fault(
        "s:Sender",
        "w:InvalidSelectors",
        _INVALID_SELECTORS,
        2150858843,
        f"The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell was not "
        "found on the server. Possible causes are: the specified ShellId is incorrect or the shell no longer "
        "exists on the server. Provide the correct ShellId or create a new shell and retry the operation. ",
    )


def access_denied() -> Fault:
    """Access denied (WSManFault 5), as Windows answers a user who may not use remote shells."""
    return Fault("s:Sender", "w:AccessDenied", "Access is denied.", 5, "Access is denied. ")


# The three faults below are not in the recorded Windows traffic: their WSManFault codes and
# message texts are Windows' own (winerror.h / wsmerror.h), their SOAP subcodes follow DSP0226.


def action_not_supported(action: str) -> Fault:
    """An action this server does not implement (ERROR_WSMAN_INVALID_ACTIONURI 0x80338001)."""
    msg = (
        "The WS-Management service cannot process the request. The WS-Addressing action URI is invalid. "
        "Check the documentation for information on how to construct an action URI. "
    )
    return Fault("s:Sender", "a:ActionNotSupported", msg, 2150858753, msg)


def resource_not_found() -> Fault:
    """A ResourceURI other than the cmd shell (ERROR_WSMAN_RESOURCE_NOT_FOUND 0x80338000)."""
    msg = (
        "The WS-Management service cannot process the request. The service cannot find the resource "
        "identified by the resource URI and selectors. "
    )
    return Fault("s:Sender", "w:DestinationUnreachable", msg, 2150858752, msg)


def code_page_not_supported() -> Fault:
    """A WINRS_CODEPAGE the server cannot set (ERROR_WINRS_CODE_PAGE_NOT_SUPPORTED 0x80338140)."""
    msg = (
        "The WinRS client cannot process the request. The server cannot set Code Page. You may want to use "
        "the CHCP command to change the client Code Page to 437 and receive the results in English. "
    )
    return Fault("s:Receiver", "w:InternalError", msg, 2150859072, msg)


def handler_failed(message: str) -> Fault:
    """The pluggable command handler raised: a bug in the test machine, reported loudly
    (ERROR_INTERNAL_ERROR 1359 with the handler's exception as the message)."""
    return Fault("s:Receiver", "w:InternalError", message, 1359, message)


FAULT_KINDS = {
    "access-denied": access_denied,
    "timed-out": timed_out,
    "shell-not-found": lambda: unknown_shell("00000000-0000-0000-0000-000000000000"),
    "command-not-found": unknown_command,
}


def stream(name: str, command_id: str, data: bytes | None, end: bool = False) -> str:
    """One <rsp:Stream>: base64 data, or an empty End="true" marker."""
    attrs = f'Name="{name}" CommandId="{command_id}"' + (' End="true"' if end else "")
    text = base64.b64encode(data).decode() if data else ""
    return f"<rsp:Stream {attrs}>{text}</rsp:Stream>"
