"""Raw HTTP/1.1 on loopback sockets: requests no well-behaved client would send.

httpx always finishes what it starts; a hostile or broken client does not. These helpers send
the bytes given and then hang up in the chosen way: a reset (RST, what a crashed or killed
process leaves) or a close of the sending side (FIN, what a client that gave up leaves).
"""

from __future__ import annotations

import socket
import struct


def request_head(method: str, path: str, headers: dict[str, str], length: int) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {length}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def send_and_abandon(port: int, data: bytes, *, reset: bool) -> None:
    """Send ``data``, then reset the connection (or close it) without reading an answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(data)
        if reset:
            # linger on, for 0 s: close() sends RST instead of FIN
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            conn.shutdown(socket.SHUT_WR)


def exchange(port: int, data: bytes, *, timeout: float = 10) -> tuple[int, bytes]:
    """Send one whole request; the status and the raw answer (head and body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(data)
        answer = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
            head, _, body = answer.partition(b"\r\n\r\n")
            length = _content_length(head)
            if length is not None and len(body) >= length:
                break
    return int(answer.split(b" ", 2)[1]), answer


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return None
