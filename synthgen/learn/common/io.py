"""Output folders and atomic writes of the learning commands (JSON, PNG, checkpoints, markdown).

Every file goes through ``synthgen.io.atomic_write_bytes`` (temp file in the same
folder, then rename), the one atomic writer of the project: a reader never sees half a file.
"""

from __future__ import annotations

import io
import json
import math
import os
from pathlib import Path

import cv2
import numpy as np

from synthgen.errors import SynthgenError
from synthgen.io import atomic_write_bytes


def ensure_out(out: Path) -> Path:
    """Create ``out`` and check that it is writable (one-line error naming it if not)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write_test_{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise SynthgenError(f"out: cannot write to {out}: {exc.strerror or exc}") from None
    return out


def clean(obj):
    """NaN/inf -> None, recursively (strict JSON)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    return obj


def atomic_json(path: Path, obj) -> None:
    """Strict JSON (NaN written as null)."""
    atomic_write_bytes(Path(path), (json.dumps(clean(obj), indent=1, allow_nan=False) + "\n").encode("utf-8"))


def atomic_text(path: Path, text: str) -> None:
    """A text file (markdown reports, CSV)."""
    atomic_write_bytes(Path(path), text.encode("utf-8"))


def atomic_png(path: Path, img: np.ndarray) -> None:
    """A PNG of an OpenCV image (BGR or greyscale)."""
    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise SynthgenError(f"{path}: cannot encode image")
    atomic_write_bytes(Path(path), buf.tobytes())


def atomic_torch_save(path: Path, obj) -> None:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(Path(path), buf.getvalue())
