"""Files latte writes for its users: reports, exports and an import's rejected rows.

A regular file is written beside its destination under a temporary name and renamed into
place when complete, so a write that fails (a full disk, a Ctrl-C) leaves the previous file
as it was and no temporary behind. A destination that exists and is not a regular file
(`/dev/stdout`, a FIFO, a terminal) is written directly: renaming over it would replace the
device with a file. A failure is one line naming the file, the cause and the way out
(docs/architecture.md, "Errors and exit codes").
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

from latte_cli.errors import InvalidValue


def destination(output: str | None) -> Path | None:
    """The file an `--output` names, or None for stdout (no option, or `-`)."""
    if output is None or output == "-":
        return None
    if not output.strip():
        raise InvalidValue("--output is empty: give a file name, or - for stdout.")
    return Path(output)


def refuse_unwritable(path: Path, option: str) -> None:
    """Refuse, naming `option`, a file that cannot be written, before the work that would
    write it is done (an import writes its rejects and its profile after the rows)."""
    folder = path.parent
    if path.is_dir():
        problem = "is a folder"
    elif not folder.is_dir():
        problem = f"is in {folder}, which is not an existing folder"
    elif not os.access(folder, os.W_OK):
        problem = f"is in {folder}, where latte may not write"
    else:
        return
    raise InvalidValue(f"{option} {path} {problem}. Give a file in a writable folder.")


def cannot_write(path: Path | str, error: OSError) -> InvalidValue:
    """The one-line error for a file latte could not write."""
    cause = error.strerror or type(error).__name__
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = "Free some space or choose another path."
    else:
        fix = "Choose another path."
    return InvalidValue(f"Cannot write {path}: {cause}. {fix}")


class OutFile:
    """One file being written: `open()`, write to `file`, then `commit()` or `discard()`."""

    def __init__(self, path: Path, *, errors: str = "strict") -> None:
        self.path = path
        self.errors = errors
        self.file: IO[str] | None = None
        self.partial: Path | None = None

    def open(self) -> IO[str]:
        try:
            self.file = self._open()
        except OSError as error:
            self.discard()
            raise cannot_write(self.path, error) from None
        return self.file

    def _open(self) -> IO[str]:
        try:
            mode = self.path.stat().st_mode
        except FileNotFoundError:
            mode = None
        if mode is not None and not stat.S_ISREG(mode):
            return self.path.open("w", encoding="utf-8", errors=self.errors, newline="")
        folder = self.path.parent
        try:
            fd, name = tempfile.mkstemp(dir=folder, prefix=f".{self.path.name}.", suffix=".partial")
        except OSError as error:
            if mode is None or not folder.is_dir():
                raise
            # The file exists but its folder takes no new file (/proc, a read-only folder).
            raise InvalidValue(
                f"Cannot write {self.path}: no new file can be made in {folder} to replace it "
                f"({error.strerror or type(error).__name__}). Choose another path."
            ) from None
        self.partial = Path(name)
        # mkstemp makes the file private; give it the old file's mode, or a new file's.
        os.chmod(fd, stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask())
        return os.fdopen(fd, "w", encoding="utf-8", errors=self.errors, newline="")

    def commit(self) -> None:
        """Close the file and, if it was written under a temporary name, rename it into place."""
        try:
            if self.file is not None:
                self.file.close()
            if self.partial is not None:
                os.replace(self.partial, self.path)
                self.partial = None
        except OSError as error:
            self.discard()
            raise cannot_write(self.path, error) from None

    def discard(self) -> None:
        """Close and remove the temporary file; the destination is left as it was."""
        if self.file is not None:
            # The buffered rest may fail to be written too: it is thrown away with the file.
            with suppress(OSError):
                self.file.close()
            self.file = None
        if self.partial is not None:
            self.partial.unlink(missing_ok=True)
            self.partial = None


@contextmanager
def writing(path: Path, *, errors: str = "strict") -> Iterator[IO[str]]:
    """Write `path` as a whole or not at all (see the module docstring)."""
    out = OutFile(path, errors=errors)
    handle = out.open()
    try:
        yield handle
    except OSError as error:
        out.discard()
        raise cannot_write(path, error) from None
    except BaseException:
        out.discard()
        raise
    out.commit()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
