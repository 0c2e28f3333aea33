"""Raw WebSocket clients that behave badly on purpose: masked frames by hand, sockets that never
read. For the attack tests and the abuse benchmark (stdlib only)."""

from __future__ import annotations

import base64
import os
import socket
import struct

from testkit.ports import LOOPBACK


def ws_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One masked client frame (clients must mask), FIN set."""
    mask = os.urandom(4)
    head = bytes([0x80 | opcode])
    size = len(payload)
    if size < 126:
        head += bytes([0x80 | size])
    elif size < 1 << 16:
        head += bytes([0x80 | 126]) + struct.pack("!H", size)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", size)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


def raw_websocket(port: int, rcvbuf: int = 4096) -> socket.socket:
    """Upgrade a plain socket to a WebSocket and read nothing after the 101 answer.

    A small receive buffer makes the server's send path back up fast, as a client that never
    reads does on a real network.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect((LOOPBACK, port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError(f"closed during the upgrade: {answer!r}")
        answer += chunk
    if not answer.startswith(b"HTTP/1.1 101"):
        sock.close()
        raise ConnectionRefusedError(answer.split(b"\r\n", 1)[0].decode())
    return sock
