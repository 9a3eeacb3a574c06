"""Writing a result file whole or not at all."""

import contextlib
import os
import tempfile
from typing import Iterator, TextIO

from core.common.errors import UserError


def write_atomic(path: str, text: str) -> str:
    """Writes `text` to `path` through a temporary file in the same folder and a rename: a reader,
    or a process killed mid-write, sees the old file or the complete new one, never a torn one."""
    with atomic_text(path) as f:
        f.write(text)
    return path


@contextlib.contextmanager
def atomic_text(path: str) -> Iterator[TextIO]:
    """A text file to write `path` through: renamed into place when the block ends without an
    error, removed otherwise (written in a stream, so its size is not held in memory)."""
    if os.path.isdir(path):
        raise UserError(f"{path}: a folder; name the file to write")
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".partial", dir=folder)
    except OSError as e:
        raise UserError(f"{path}: cannot write there ({e.strerror or e})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    """The process's umask (reading it means setting it; it is set back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
