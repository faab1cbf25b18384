"""A free TCP port on the loopback interface, for a server this process is about to start.

The port is released before the server binds it. Another process may take it in that gap; the
servers started this way (the embedded broker, cluster members, the API) then fail to bind and
say so, and whoever started them reports it.
"""

from __future__ import annotations

import socket


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
