"""Atomic file replacement: the one way bioverify writes a file that another process may read.

:func:`write_atomic` writes the bytes to a temporary file in the target's folder, flushes
them to disk (``fsync``), renames the file over the target (``os.replace``) and flushes the
folder. A reader sees the old file or the new one, never a part: a process killed at any
point, a full disk (``ENOSPC``) or an I/O error (``EIO``) leaves the old file as it was and
no temporary file behind (except after a kill, a ``.<name>.*.tmp`` file that nothing reads).

:func:`replace_folder` does the same for a folder built beside its target (a model bundle):
on Linux the two are swapped in one step (``renameat2`` with ``RENAME_EXCHANGE``), so a
reader sees the whole old folder or the whole new one, also when the writer is killed.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import sys
import tempfile
from pathlib import Path

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


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


def replace_folder(built: Path | str, target: Path | str) -> Path:
    """Put the folder ``built`` at ``target``, replacing a folder there, atomically where the
    platform allows it.

    ``built`` must be in the same file system as ``target`` (build it beside it). On Linux
    an existing ``target`` is swapped with ``built`` in one step and the old folder removed
    afterwards; a process killed at any point leaves ``target`` whole (old or new) and at
    most a leftover folder at ``built``. Elsewhere (or on a file system that cannot swap),
    the old folder is first moved to ``.<name>.replaced-<pid>`` beside the target: a kill
    between the two renames leaves it there. On an :class:`OSError` the old folder is put
    back and the error raised.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "new").mkdir(); _ = (root / "new" / "a").write_text("new")
    >>> (root / "out").mkdir(); _ = (root / "out" / "a").write_text("old")
    >>> (replace_folder(root / "new", root / "out") / "a").read_text()
    'new'
    >>> sorted(p.name for p in root.iterdir())
    ['out']
    """
    built, target = Path(built), Path(target)
    if target.exists() and exchange_paths(built, target):
        shutil.rmtree(built, ignore_errors=True)  # the old folder, now at ``built``
    elif target.exists():
        old = target.with_name(f".{target.name}.replaced-{os.getpid()}")
        os.replace(target, old)
        try:
            os.replace(built, target)
        except OSError:
            os.replace(old, target)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(built, target)
    _sync_folder(target.parent)
    return target


def exchange_paths(a: Path, b: Path) -> bool:
    """Swap two existing paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``).

    Returns ``False``, having changed nothing, where the platform or file system cannot;
    raises the :class:`OSError` of any other failure."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # a C library without it (musl before 1.2.4)
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes += [ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


__all__ = ["exchange_paths", "replace_folder", "write_atomic"]
