"""Where ``ppgn serve`` listens: checked before anything heavy is imported, and before it binds."""

from __future__ import annotations

import errno
import ipaddress
import socket

from ..io.checks import InputError, check_count


def check_address(host: str, port: int) -> None:
    """Refuse, before serving, a host this machine cannot listen on or a port in use (one line naming the flag)."""
    port = check_count(port, "--port", high=65535)
    if not host or any(c.isspace() for c in host):
        raise InputError(f"--host must be an address or a host name, e.g. 127.0.0.1, got {host!r}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as err:
        raise InputError(f"--host {host!r} is not an address of this machine ({err}); e.g. 127.0.0.1 or 0.0.0.0") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise InputError(f"--port {port} is in use on {host}; pick another with --port") from None
            raise InputError(f"--host {host}: cannot listen there ({err.strerror or err}); e.g. 127.0.0.1") from None


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach ``host`` (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
