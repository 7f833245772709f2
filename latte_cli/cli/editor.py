"""Writing long text in the user's own editor, as `git commit` does.

The editor is the `editor` setting (config.py): `$VISUAL`, else `$EDITOR`, else `vi` — git's
lookup order without git's own `GIT_EDITOR` — or the config file's `editor`. The text is written
in a temporary file (readable by its owner only: it holds customer data) that starts with the
text so far and a few comment lines saying what to write; lines starting with `#` are left out
afterwards.

`compose` is what a command's `--edit` calls (one line: an empty text refuses with exit 1, like
`git commit`); `edit` is what the guided flow's editor key calls (an empty text keeps the
prompt's text). An editor that cannot be started or exits with an error is an `InvalidValue`
naming the variable to set.

A text written for `--edit` is not lost when the command then refuses it (a bad value, a stage
out of order, a database error), as git keeps a refused commit message: `kept_if_refused`
writes it to `unsaved/KEY/NAME.txt` in the user's data folder (beside the default database;
folders and file readable by their owner only) and the refusal says where it is. KEY
(`database_key`) names the database the command ran on, so that a text kept for complaint 5
of one database is never offered for complaint 5 of another: it is a digest of the database's
identity, never its URL or password. The next `--edit` of the same command on the same
database starts from it, and it is removed once a command succeeds with that text, however it
was given (README, "Writing in your editor").

A kept text holds the customer's words, so erasing a complaint erases its kept texts too:
`latte customer forget` and `latte db retain` call `remove_drafts` with the database and the
complaints they erased (docs/architecture.md, "Customer data"): that database's kept texts of
those complaints go, another database's stay. Texts kept by earlier versions directly in
`unsaved/` (`unsaved/step-ID-STAGE.txt`) name no database: `--edit` no longer starts from
them, and erasing a complaint removes those of its id as well, the safe side for words that
may be the erased customer's. `unsaved/KEY/new-listen.txt` (a refused `latte new`) belongs to
no complaint: erasing never removes it, and `customer forget` names it (`unattached_note`).
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from latte_cli import config
from latte_cli.errors import InvalidValue, LatteError

COMMENT = "#"
# A kept `latte step ID STAGE --edit` text (`kept_path`): the complaint's id, then the stage.
STEP_DRAFT = re.compile(r"step-(\d+)-[a-z_]+\.txt")
FOOTER = ("Lines starting with '#' are left out. An empty text cancels: nothing is saved.",)


@dataclass(frozen=True)
class Editor:
    """The editor command and where it came from: VISUAL, EDITOR, the config file or default."""

    command: str
    source: config.Source
    origin: str

    @property
    def fix(self) -> str:
        """What to change to use another editor: the variable (or file key) that chose it."""
        if self.source is config.Source.ENV:
            return f"Set {self.origin} to an editor that works, e.g. {self.origin}=nano."
        if self.source is config.Source.FILE:
            return "Fix it with `latte config set editor COMMAND`, or set VISUAL, e.g. VISUAL=nano."
        return (
            f"Set VISUAL (or EDITOR) to your editor, e.g. VISUAL=nano ({self.command} is the "
            "default)."
        )


def current_editor() -> Editor:
    """The editor in use: VISUAL, else EDITOR, else the config file's `editor`, else vi."""
    setting = config.Settings.resolve().editor
    return Editor(command=setting.value, source=setting.source, origin=setting.origin)


def template(initial: str, guidance: Sequence[str]) -> str:
    """The file the editor opens: the text so far, then the guidance as comment lines."""
    lines = [*guidance, *FOOTER]
    comments = "".join(f"{COMMENT} {line}\n" for line in lines)
    body = initial.rstrip("\n")
    return f"{body}\n\n{comments}" if body else f"\n{comments}"


def without_comments(text: str) -> str:
    """The text written: comment lines left out, blank lines around it and line ends trimmed."""
    kept = [line.rstrip() for line in text.splitlines() if not line.startswith(COMMENT)]
    return "\n".join(kept).strip("\n").rstrip()


def run_editor(editor: Editor, path: Path) -> None:
    """Open `path` in the editor and wait; InvalidValue if it cannot start or fails."""
    try:
        words = shlex.split(editor.command)
    except ValueError:
        words = []
    if not words:
        raise InvalidValue(f"The editor {editor.command!r} is not a command. {editor.fix}")
    try:
        finished = subprocess.run([*words, str(path)], check=False)
    except FileNotFoundError:
        raise InvalidValue(f"The editor {words[0]!r} was not found. {editor.fix}") from None
    except OSError as error:
        reason = error.strerror or str(error)
        raise InvalidValue(
            f"The editor {words[0]!r} cannot start ({reason}). {editor.fix}"
        ) from None
    if finished.returncode != 0:
        raise InvalidValue(
            f"The editor {words[0]!r} exited with status {finished.returncode}: nothing was "
            f"saved. {editor.fix}"
        )


def edit(initial: str, guidance: Sequence[str], *, editor: Editor | None = None) -> str:
    """The text written in the editor, starting from `initial` (empty if all was deleted)."""
    editor = editor or current_editor()
    handle, name = tempfile.mkstemp(prefix="latte-", suffix=".txt")
    path = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(template(initial, guidance))
        run_editor(editor, path)
        try:
            written = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise InvalidValue(
                f"The text written in the editor cannot be read ({error}). Save it as UTF-8."
            ) from None
    finally:
        path.unlink(missing_ok=True)
    return without_comments(written)


def compose(what: str, *, initial: str = "", instead: str = "", hint: str = "") -> str:
    """`--edit`: the text written in the editor about `what`; an empty text refuses (exit 1).

    `instead` names the flag that gives the same text on the command line, for the refusal.
    """
    guidance = [f"Write {what} above these lines.", *([hint] if hint else [])]
    text = edit(initial, guidance)
    if not text.strip():
        other = f", or give it with {instead}" if instead else ""
        raise InvalidValue(
            f"Cancelled: the text written in the editor is empty, so nothing was saved. Write it "
            f"again with --edit{other}."
        )
    return text


def database_key(db_url: str) -> str:
    """A short name for the database at `db_url` that stays the same however it is given: a
    digest of the SQLite file's absolute path (links followed), or of a server database's
    backend, user, host, port and name. Never the password, nor any text of the URL."""
    scheme, _, rest = db_url.partition("://")
    backend = scheme.split("+", 1)[0].lower()
    if backend == "sqlite":  # the file as SQLAlchemy reads it: what follows `sqlite:///`
        database = unquote(rest.partition("?")[0].removeprefix("/"))
        identity = f"sqlite:{Path(database).expanduser().resolve()}"
    else:
        url = urlsplit(db_url)
        query = parse_qs(url.query)
        try:
            port = str(url.port or "")
        except ValueError:  # not a number: the connection is refused anyway
            port = ""
        host = url.hostname or ",".join(query.get("host", []))
        port = port or ",".join(query.get("port", [])) or "5432"  # PostgreSQL's own default
        user = unquote(url.username or "")
        name = unquote(url.path.removeprefix("/"))
        identity = f"{backend}:{user}@{host}:{port}/{name}"
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]


def unsaved_folder() -> Path:
    """`unsaved/` in the user's data folder: one folder per database (`database_key`) in it."""
    return config.default_db_path().parent / "unsaved"


def kept_path(db_url: str, name: str) -> Path:
    """Where a refused command's text is kept: `unsaved/KEY/NAME.txt` in the user's data
    folder, KEY naming the database (`database_key`)."""
    return unsaved_folder() / database_key(db_url) / f"{name}.txt"


def kept_text(db_url: str, name: str) -> str | None:
    """The text a refused command on this database left under `name`, if any."""
    try:
        return kept_path(db_url, name).read_text(encoding="utf-8").rstrip("\n")
    except (OSError, UnicodeDecodeError):
        return None


def keep(db_url: str, name: str, text: str) -> Path:
    """Write `text` where `kept_path` says, readable by its owner only (it holds customer
    data): the folders are created 0700 and the file 0600 before any byte is written."""
    path = kept_path(db_url, name)
    path.parent.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(handle, 0o600)  # an older file keeps its mode through O_CREAT
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        file.write(f"{text}\n")
    return path


@contextmanager
def kept_if_refused(
    db_url: str, name: str, text: str | None, *, edited: bool, flag: str, command: str
) -> Iterator[None]:
    """Run the command that saves `text` on the database at `db_url`; if it is refused and the
    text was written in the editor (`edited`), keep it for that database and say in the
    refusal (same class and exit code) where it is and how to reuse it. On success, a text
    kept under `name` for that database that is the one just saved is removed, whether it
    came from the editor or an option."""
    try:
        yield
    except LatteError as error:
        if not (edited and text):
            raise
        try:
            path = keep(db_url, name, text)
        except OSError as failure:
            reason = failure.strerror or str(failure)
            error.message += f" Your text could not be kept ({reason})."
        else:
            error.message += (
                f" Your text is kept in {path}: `{command} --edit` on the same database "
                f'starts from it, or give it with {flag} "$(cat {path})".'
            )
        error.args = (error.message,)
        raise
    if text and kept_text(db_url, name) == text.rstrip("\n"):
        kept_path(db_url, name).unlink(missing_ok=True)


def _step_drafts(folder: Path, wanted: set[int]) -> list[Path]:
    """The kept `step-ID-STAGE.txt` texts in `folder` of the complaints `wanted`, by name."""
    try:
        names = sorted(path.name for path in folder.iterdir())
    except OSError:  # no folder yet: nothing was ever kept
        return []
    found = []
    for name in names:
        match = STEP_DRAFT.fullmatch(name)
        if match and int(match.group(1)) in wanted:
            found.append(folder / name)
    return found


def drafts_of(db_url: str, complaint_ids: Iterable[int]) -> list[Path]:
    """The texts refused commands kept for these complaints of this database
    (`KEY/step-ID-STAGE.txt`), and those earlier versions kept for the same ids directly in
    `unsaved/`, which name no database (see the module's docstring)."""
    wanted = set(complaint_ids)
    if not wanted:
        return []
    own = _step_drafts(kept_path(db_url, "step").parent, wanted)
    return own + _step_drafts(unsaved_folder(), wanted)


@dataclass(frozen=True)
class RemovedDrafts:
    removed: int
    # Kept texts that could not be removed (a permission changed by hand), with the reason.
    left: tuple[str, ...] = ()

    @property
    def warning(self) -> str | None:
        """What to tell the user about texts left, None if every one went."""
        if not self.left:
            return None
        return (
            f"These unsaved texts hold erased words but could not be removed: "
            f"{'; '.join(self.left)}. Delete them."
        )


def remove_drafts(db_url: str, complaint_ids: Iterable[int]) -> RemovedDrafts:
    """Remove the texts refused commands kept for these complaints of this database
    (`drafts_of`): their words were just erased from it."""
    removed, left = 0, []
    for path in drafts_of(db_url, complaint_ids):
        try:
            path.unlink(missing_ok=True)
        except OSError as error:
            left.append(f"{path} ({error.strerror or error})")
        else:
            removed += 1
    return RemovedDrafts(removed, tuple(left))


def unattached_note(db_url: str) -> str | None:
    """What `customer forget` tells about the kept text of a refused `latte new` on this
    database (or an earlier version's, in `unsaved/` itself), None if there is none: it
    belongs to no complaint, so it is left, yet may hold the erased customer's words."""
    paths = [kept_path(db_url, "new-listen"), unsaved_folder() / "new-listen.txt"]
    found = [str(path) for path in paths if path.exists()]
    if not found:
        return None
    return (
        f"The text of a refused `latte new` is kept in {' and '.join(found)}: it belongs to no "
        "complaint, so it was left. Delete it if it holds this customer's words."
    )
