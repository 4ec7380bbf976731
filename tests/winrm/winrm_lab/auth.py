"""HTTP authentication and NTLM message sealing, as the WinRM service does them.

Why this module exists: a client's credential handling is only tested when the server really
checks the password (Basic: compare; NTLM: pyspnego's acceptor computes the NTLMv2 response
from the password in NTLM_USER_FILE) and, over plain HTTP, really requires the body to be
sealed the way MS-WSMV 2.2.9.1.1 describes (multipart/encrypted, protocol
application/HTTP-SPNEGO-session-encrypted), which is Windows' default (AllowUnencrypted=false).
NTLM authenticates the TCP connection, not the request: after the handshake, requests on the
same connection need no Authorization header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import struct
import tempfile
from dataclasses import dataclass

import spnego
from spnego.channel_bindings import GssChannelBindings

BOUNDARY = b"--Encrypted Boundary"
SPNEGO_PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
ENCRYPTED_CONTENT_TYPE = f'multipart/encrypted;protocol="{SPNEGO_PROTOCOL}";boundary="Encrypted Boundary"'


@dataclass(frozen=True)
class Account:
    """A local account of the test machine."""

    name: str
    password: str


class Accounts:
    """The machine's local accounts, for Basic and (through NTLM_USER_FILE) for NTLM."""

    def __init__(self, accounts: list[Account], hostname: str, state_dir: str):
        self.accounts = {a.name.lower(): a for a in accounts}
        self.hostname = hostname
        # pyspnego's acceptor reads DOMAIN:USER:PASSWORD lines; the domain must match what the
        # client sent, so each local account is listed under the names a client may use for a
        # local machine: none, ".", and the computer name.
        fd, path = tempfile.mkstemp(prefix="ntlm-users-", dir=state_dir)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for a in accounts:
                for domain in ("", ".", hostname, hostname.upper(), hostname.lower()):
                    f.write(f"{domain}:{a.name}:{a.password}\n")
        os.chmod(path, 0o600)
        os.environ["NTLM_USER_FILE"] = path
        self.user_file = path

    def local_name(self, login: str) -> str | None:
        """`HOST\\user`, `.\\user`, `user@HOST` or `user` -> the local account name, if ours."""
        name = login
        if "\\" in name:
            domain, name = name.split("\\", 1)
            if domain.lower() not in ("", ".", self.hostname.lower()):
                return None
        elif "@" in name:
            name, domain = name.split("@", 1)
            if domain.lower() not in (".", self.hostname.lower()):
                return None
        return name if name.lower() in self.accounts else None

    def check_basic(self, header_value: str) -> str | None:
        """The login name when `Basic <b64>` carries a right password, else None."""
        try:
            raw = base64.b64decode(header_value.strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
        login, sep, password = raw.partition(":")
        name = self.local_name(login) if sep else None
        if name is None:
            return None
        want = self.accounts[name.lower()].password
        return login if hmac.compare_digest(password.encode(), want.encode()) else None


def tls_server_end_point(cert_der: bytes) -> GssChannelBindings:
    """RFC 5929 tls-server-end-point bindings of our certificate (SHA-256 signed: SHA-256 hash)."""
    digest = hashlib.sha256(cert_der).digest()
    return GssChannelBindings(application_data=b"tls-server-end-point:" + digest)


class NtlmConnection:
    """NTLM (raw, or inside SPNEGO under the Negotiate scheme) for one TCP connection."""

    def __init__(self, bindings: GssChannelBindings | None):
        self.bindings = bindings
        self.context = None
        self.user: str | None = None

    def step(self, token: bytes) -> tuple[bool, bytes | None]:
        """Feeds one client token. Returns (authenticated, token to send back)."""
        ntlm_negotiate = token.startswith(b"NTLMSSP\x00") and token[8:12] == b"\x01\x00\x00\x00"
        spnego_init = token[:1] == b"\x60"
        if self.context is None or self.context.complete or ntlm_negotiate or spnego_init:
            # A first token starts a new context, also on an already authenticated connection.
            self.context = spnego.server(protocol="negotiate", channel_bindings=self.bindings)
            self.user = None
        try:
            out = self.context.step(token)
        except spnego.exceptions.SpnegoError:
            self.context, self.user = None, None
            return False, None
        if self.context.complete:
            self.user = self.context.client_principal
            return True, out
        return False, out

    @property
    def authenticated(self) -> bool:
        return self.user is not None

    def unseal(self, body: bytes) -> bytes:
        """The SOAP text of a multipart/encrypted body; raises ValueError when it is not valid."""
        if self.context is None or self.user is None:
            raise ValueError("sealed message on a connection that did not authenticate with NTLM")
        out = b""
        pos = 0
        header_re = re.compile(
            rb"--Encrypted Boundary\r\n\s*Content-Type: " + SPNEGO_PROTOCOL.encode() +
            rb"\r\n\s*OriginalContent: type=application/soap\+xml;charset=UTF-8;Length=(\d+)\r\n"
            rb"--Encrypted Boundary\r\n\s*Content-Type: application/octet-stream\r\n",
            re.IGNORECASE,
        )
        while True:
            m = header_re.match(body, pos)
            if not m:
                break
            length = int(m.group(1))
            p = m.end()
            if p + 4 > len(body):
                raise ValueError("sealed part truncated before the signature length")
            (sig_len,) = struct.unpack("<I", body[p : p + 4])
            start = p + 4
            end = start + sig_len + length  # RC4: the ciphertext is as long as the plaintext
            if sig_len > 1024 or end > len(body):
                raise ValueError("sealed part shorter than its Length")
            try:
                plain = self.context.unwrap(body[start:end]).data
            except spnego.exceptions.SpnegoError as e:
                raise ValueError(f"unwrap failed: {e}") from e
            if len(plain) != length:
                raise ValueError("decrypted length differs from OriginalContent Length")
            out += plain
            pos = end
            if body.startswith(b"\r\n", pos):  # tolerated before the next boundary
                pos += 2
        if pos == 0 or not body.startswith(BOUNDARY + b"--", pos):
            raise ValueError("not a multipart/encrypted body with a closing boundary")
        return out

    def seal(self, plain: bytes) -> bytes:
        """A multipart/encrypted body, byte for byte the layout Windows sends (no CRLF before the
        closing boundary: pywinrm strips exactly `--Encrypted Boundary--\\r\\n`)."""
        assert self.context is not None
        wrapped = self.context.wrap(plain, encrypt=True).data
        sig, enc = wrapped[:16], wrapped[16:]
        return (
            BOUNDARY + b"\r\n"
            b"\tContent-Type: " + SPNEGO_PROTOCOL.encode() + b"\r\n"
            b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=" + str(len(plain)).encode() + b"\r\n"
            + BOUNDARY + b"\r\n"
            b"\tContent-Type: application/octet-stream\r\n"
            + struct.pack("<I", len(sig)) + sig + enc
            + BOUNDARY + b"--\r\n"
        )


def is_sealed(content_type: str) -> bool:
    """Whether a request's Content-Type announces an SPNEGO-sealed body."""
    ct = content_type.lower()
    return ct.startswith("multipart/encrypted") and SPNEGO_PROTOCOL.lower() in ct
