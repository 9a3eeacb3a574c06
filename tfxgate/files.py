"""Writing a result file whole or not at all."""

import os
import tempfile

from core.errors import UserError


def write_atomic(path: str, text: str) -> str:
    """Writes `text` to `path` through a temporary file in the same folder and a rename: a reader,
    or a process killed mid-write, sees the old file or the complete new one, never a torn one."""
    if os.path.isdir(path):
        raise UserError(f"--out {path}: a folder; name the file to write")
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".partial", dir=folder)
    except OSError as e:
        raise UserError(f"--out {path}: cannot write there ({e.strerror or e})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
