"""The email benchmark's SMTP server (aiosmtpd on loopback), in a process of its own.

A real relay is another process (another machine): run in the benchmark's process, the
server's event loop and its parsing of every message would compete with the alerts service
for the same interpreter lock and be measured as the service's cost. Prints `PORT <n>` once
listening, then `<epoch seconds> <report number>` per accepted message whose Subject carries
`#<number>` (found in the raw header block: no MIME parsing per message), until stdin closes.
"""

from __future__ import annotations

import re
import socket
import sys
import time
from typing import Any

from aiosmtpd.controller import Controller

NUMBER = re.compile(rb"^Subject:[^\n]*(?:\n[ \t][^\n]*)*?#(\d+)\b", re.MULTILINE | re.IGNORECASE)


class Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        at = time.time()
        head = bytes(envelope.content).split(b"\r\n\r\n", 1)[0].replace(b"\r\n", b"\n")
        found = NUMBER.search(head)
        if found:
            sys.stdout.write(f"{at:.6f} {int(found.group(1))}\n")
            sys.stdout.flush()
        return "250 OK"


def main() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    print(f"PORT {port}", flush=True)
    try:
        sys.stdin.read()  # the benchmark closes our stdin (or dies): stop
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
