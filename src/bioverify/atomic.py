"""Atomic file replacement: the one way bioverify writes a file that another process may read.

:func:`write_atomic` writes the bytes to a temporary file in the target's folder, flushes
them to disk (``fsync``), renames the file over the target (``os.replace``) and flushes the
folder. A reader sees the old file or the new one, never a part: a process killed at any
point, a full disk (``ENOSPC``) or an I/O error (``EIO``) leaves the old file as it was and
no temporary file behind (except after a kill, a ``.<name>.*.tmp`` file that nothing reads).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path | str, data: bytes, mode: int = 0o644) -> Path:
    """Replace ``path`` by a file holding ``data`` (permissions ``mode``), atomically.

    Raises the :class:`OSError` of the step that failed (callers turn it into their typed
    error); the target is then unchanged.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> write_atomic(folder / "a.json", b"{}").read_bytes()
    b'{}'
    """
    target = Path(path)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(handle, view) :]
            os.fchmod(handle, mode)  # mkstemp makes it owner-only
            os.fsync(handle)
        finally:
            os.close(handle)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _sync_folder(target.parent)
    return target


def _sync_folder(folder: Path) -> None:
    """Flush a folder's entries (the rename) to disk where the platform allows it."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass  # some file systems cannot fsync a folder; the rename is still atomic
    finally:
        os.close(handle)


__all__ = ["write_atomic"]
