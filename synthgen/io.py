"""The one home of atomic writes: a file is written to a temp name in its folder and renamed into
place, so a reader (or a resumed run after ``kill -9``) never sees half a file."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np


def _file_mode() -> int:
    """The mode a plain ``open()`` would give a new file under the current umask (0644 usually)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def stable_hash(obj: Any, length: int = 16, prefix: str = "") -> str:
    """The one content hash of synthgen (configs, recipes, runs, caches): sha256 of ``prefix`` and
    ``obj`` as JSON with sorted keys (non-JSON values as ``str``), as ``length`` hex digits. The same
    content gives the same hash on any machine and in any key order."""
    blob = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(f"{prefix}{blob}".encode()).hexdigest()[:length]


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp_", suffix=path.suffix)
    try:
        os.fchmod(fd, _file_mode())  # mkstemp makes 0600; a dataset is meant to be shared
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_folder(out: str | Path):
    """A new folder written whole: yields a temporary folder beside ``out`` (which must be absent
    or empty), renamed to ``out`` when the block ends without error and removed when it fails."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp_{out.name}_", dir=out.parent))
    try:
        yield tmp
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode("utf-8"))


def atomic_write_png(path: str | Path, array: np.ndarray) -> None:
    """PNG of an array (uint16 arrays as 16-bit greyscale)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())


def atomic_write_image(path: str | Path, array: np.ndarray, jpeg_quality: int = 95) -> None:
    """An image as PNG, or as JPEG at ``jpeg_quality`` when ``path`` ends in .jpg / .jpeg (alpha dropped;
    Pillow's encoder with 4:2:0 chroma subsampling, as cameras and most photo tools write)."""
    if Path(path).suffix.lower() not in (".jpg", ".jpeg"):
        atomic_write_png(path, array)
        return
    import io

    from PIL import Image

    if array.ndim == 3 and array.shape[2] == 4:
        array = array[..., :3]
    if array.dtype != np.uint8:
        array = (array / 257).astype(np.uint8) if array.dtype == np.uint16 else array.astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="JPEG", quality=int(jpeg_quality))
    atomic_write_bytes(path, buf.getvalue())


# PNG chunks that carry when and how long, not what: Blender writes the render date and time.
_VOLATILE_PNG_CHUNKS = {b"tEXt", b"zTXt", b"iTXt", b"tIME", b"eXIf"}


def strip_png_metadata(data: bytes) -> bytes:
    """``data`` (a PNG file) without its text, time and EXIF chunks; pixels untouched, so the same
    image always gives the same bytes."""
    sig = b"\x89PNG\r\n\x1a\n"
    if not data.startswith(sig):
        raise ValueError("not a PNG file")
    out, i = [sig], len(sig)
    while i + 8 <= len(data):
        length = int.from_bytes(data[i:i + 4], "big")
        end = i + 12 + length
        if data[i + 4:i + 8] not in _VOLATILE_PNG_CHUNKS:
            out.append(data[i:end])
        i = end
    return b"".join(out)
