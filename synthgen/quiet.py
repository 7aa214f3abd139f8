"""Silence C-level output (Blender's render progress, OpenCASCADE's STEP parser) around a call."""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def quiet_stdout(enabled: bool = True, fds: tuple[int, ...] = (1,)):
    """Redirect file descriptors ``fds`` (default stdout) to /dev/null: Python's writes and a C
    library's alike."""
    if not enabled:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(fd) for fd in fds]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in fds:
            os.dup2(devnull, fd)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, s in zip(fds, saved):
            os.dup2(s, fd)
            os.close(s)
        os.close(devnull)
