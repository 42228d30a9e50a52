"""Run a command as a user at a terminal does: its stdin, stdout and stderr on a
pseudo-terminal (what `script -q` gives), so ``isatty()`` is true in the child."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time


def run_in_terminal(command: list[str], timeout: float = 240, columns: int = 100, **popen) -> tuple[int, str]:
    """(exit status, everything written to the terminal, decoded) of ``command``."""
    master, slave = pty.openpty()
    # a real size: progress bars size themselves to the terminal
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    process = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, close_fds=True, **popen)
    os.close(slave)
    output, deadline = bytearray(), time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every holder of the terminal's other end has closed it
                break
            if not data:
                break
            output += data
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
    return process.wait(timeout=30), output.decode("utf-8", "replace")
