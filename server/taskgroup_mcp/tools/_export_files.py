"""Export files on disk: one directory per tenant, private modes, never a symbolic link.

Layout under the operator's export directory (``TASKGROUP_MCP_EXPORT_DIR``, trusted as configured)::

    <export_dir>/<name>                        the operator's scope: stdio, a single-key HTTP server
    <export_dir>/tenants/<key hash>/<name>     one caller key's scope (per-request-key HTTP)

Every component under the export directory is opened relative to its parent's descriptor with
``O_NOFOLLOW``: a link planted anywhere below the root is refused, never followed, and no path is
re-resolved between a check and its use. Directories are created 0700 and files 0600 with
``O_EXCL`` (never written through a file or link that already exists). A name is a plain file name.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from pathlib import Path
from types import TracebackType
from typing import Self, TextIO

__all__ = ["TENANTS_DIR", "ExportDir", "ExportDirError", "is_export_name", "read_export"]

TENANTS_DIR = "tenants"
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_NOFOLLOW = os.O_NOFOLLOW


class ExportDirError(OSError):
    """The export directory cannot be used safely; the message says why (never a file's content)."""


def is_export_name(name: str) -> bool:
    """A plain file name: no separator, no leading dot, nothing but letters, digits, ``_.-``."""
    return bool(_NAME.fullmatch(name))


class ExportDir:
    """One scope's export directory, held open by descriptor (a context manager; closes it)."""

    def __init__(self, fd: int, path: Path) -> None:
        self.fd = fd
        self.path = path

    @classmethod
    def open(cls, root: Path, tenant: str | None, *, create: bool) -> ExportDir | None:
        """The directory of ``tenant`` (None: the operator's) under ``root``; None if it does not
        exist and ``create`` is false. Raises ``ExportDirError`` for a link or a non-directory."""
        if create:
            try:
                root.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError as exc:
                raise ExportDirError(f"cannot create the export directory {root}: {exc.strerror}") from None
        try:
            fd = os.open(root, _DIR_FLAGS)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ExportDirError(f"cannot open the export directory {root}: {exc.strerror}") from None
        path = root
        for part in (TENANTS_DIR, tenant) if tenant else ():
            path = path / part
            try:
                if create:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o700, dir_fd=fd)
                child = os.open(part, _DIR_FLAGS | _NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                os.close(fd)
                return None
            except OSError:
                os.close(fd)
                raise ExportDirError(
                    f"{path} is a symbolic link or not a directory; exports never follow one. "
                    "Remove it (the server recreates the directory)."
                ) from None
            os.close(fd)
            fd = child
        return cls(fd, path)

    def create(self, name: str) -> int:
        """A new file ``name``, 0600, opened for writing; fails if anything by that name exists."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | os.O_CLOEXEC
        return os.open(name, flags, 0o600, dir_fd=self.fd)

    def writer(self, name: str, *, newline: str | None = None) -> TextIO:
        """A new file ``name`` (as :meth:`create`) as UTF-8 text."""
        return open(self.create(name), "w", encoding="utf-8", newline=newline)

    def open_regular(self, name: str) -> int | None:
        """``name`` opened for reading if it is a regular file (not a link), else None."""
        try:
            fd = os.open(name, os.O_RDONLY | _NOFOLLOW | os.O_CLOEXEC, dir_fd=self.fd)
        except OSError:
            return None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return None
        return fd

    def rename(self, source: str, target: str) -> None:
        os.rename(source, target, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def unlink(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=self.fd)

    def size(self, name: str) -> int:
        return os.stat(name, dir_fd=self.fd, follow_symlinks=False).st_size

    def names(self) -> list[str]:
        return sorted(os.listdir(self.fd))

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def read_export(root: Path, tenant: str | None, name: str) -> str | None:
    """The text of export ``name`` in ``tenant``'s scope, or None: missing, another scope's, a
    link, or not a plain name all look the same to the caller."""
    if not is_export_name(name):
        return None
    try:
        directory = ExportDir.open(root, tenant, create=False)
    except ExportDirError:
        return None
    if directory is None:
        return None
    with directory:
        fd = directory.open_regular(name)
    if fd is None:
        return None
    with open(fd, encoding="utf-8") as f:
        return f.read()
