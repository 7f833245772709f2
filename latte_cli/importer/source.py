"""Reading an import file: CSV or JSONL, from a path or stdin, as (line, values) records.

Files are read line by line and decoded per line, so a stray byte in another encoding rejects
the row it is in instead of stopping the import, and memory stays flat whatever the file's size.
The CSV delimiter is taken from the header line (the candidate it holds most of).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from latte_cli.errors import InvalidValue

DELIMITERS = ",;\t|"
FORMULA_START = ("=", "+", "-", "@")
# Multi-line quoted text may be long; a field past this is surely broken quoting.
FIELD_LIMIT = 1_000_000
csv.field_size_limit(FIELD_LIMIT)
# A header line longer than this is not a header (a binary file, or the wrong file).
HEADER_LIMIT = 1 << 20
# Bytes read at a time; lines are split only at "\n", as reading the file line by line does
# (not at the other characters `str.splitlines` takes for line ends).
BLOCK = 1 << 16
# A block longer than this (a very long line) is read line by line.
BIG_BLOCK = 1 << 20
_LINE = re.compile(r"[^\n]*\n|[^\n]+")
_BYTE_LINE = re.compile(rb"[^\n]*\n|[^\n]+")


@dataclass(slots=True)
class Record:
    """One row of the file: where it starts, its values by source column, and what is wrong
    with it before any field is looked at (bad encoding, wrong number of cells...)."""

    line: int
    values: dict[str, str]
    problem: str | None = None
    raw: list[str] | dict[str, Any] | None = None
    # A CSV row's cells in header order (its `values` stay empty: the importer takes the
    # cells it needs by position, without a dict per row).
    cells: list[str] | None = None


class CountingReader(io.RawIOBase):
    """A binary stream that counts the bytes read, for the progress bar."""

    def __init__(self, inner: IO[bytes]) -> None:
        self.inner = inner
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.inner.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        return n


@dataclass
class Source:
    """An opened import file. `records()` yields its rows; `columns` is the header."""

    name: str
    format: str
    stream: IO[bytes]
    counter: CountingReader
    encoding: str
    size: int | None
    columns: list[str] = field(default_factory=list)
    delimiter: str = ","
    _first: bytes = b""
    # The line number of the header (CSV) or of the first record (JSONL).
    first_line: int = 1
    # The file's decimal mark (`--decimal-mark`): a JSONL number with a fraction is written
    # with it, so that the amount reader reads the number it is (README, "Amounts").
    decimal_mark: str = "."

    @property
    def bytes_read(self) -> int:
        return self.counter.count

    def close(self) -> None:
        self.stream.close()

    def records(self) -> Iterator[Record]:
        if self.format == "jsonl":
            return self._jsonl()
        return self._csv()

    def _lines(self, bad: list[int], start: int, quoted: list[bool] | None = None) -> Iterator[str]:
        """Decoded lines; the numbers of lines that did not decode go to `bad`, and
        `quoted[0]` is set when a line holds an apostrophe (see `_csv`).

        Read a block of whole lines at a time: a block that decodes and holds no apostrophe
        (nearly all of them) is decoded and split in two C calls, not a call per line; any
        other block goes line by line as before, so a bad byte still rejects only its row."""
        number = start
        decode = codecs.getdecoder(self.encoding)
        for block in self._blocks():
            if len(block) <= BIG_BLOCK and (quoted is None or b"'" not in block):
                try:
                    lines = _LINE.findall(decode(block)[0])
                except UnicodeDecodeError:
                    pass
                else:
                    number += len(lines)
                    yield from lines
                    continue
            # Line by line, each line let go once read (a 50 MB line is held once or twice,
            # never in three copies).
            raws = _BYTE_LINE.findall(block)
            block = b""
            raws.reverse()
            while raws:
                raw = raws.pop()
                number += 1
                if quoted is not None and b"'" in raw:
                    quoted[0] = True
                try:
                    text = decode(raw)[0]
                except UnicodeDecodeError:
                    bad.append(number)
                    # The row is rejected; its bytes go back to the rejects file as they were.
                    text = raw.decode(self.encoding, errors="surrogateescape")
                raw = b""
                yield text

    def _blocks(self) -> Iterator[bytes]:
        """The rest of the file in blocks of whole lines (the first line read already, the
        header or first record, comes first)."""
        if self._first:
            yield self._first
        rest: list[bytes] = []  # a line's start, in pieces (a long line is not copied over)
        while chunk := self.stream.read(BLOCK):
            end = chunk.rfind(b"\n") + 1
            if not end:
                rest.append(chunk)
                continue
            rest.append(chunk[:end])
            block = [b"".join(rest)]
            rest = [chunk[end:]]
            yield block.pop()  # held by the reader alone while it is read
        if rest and rest != [b""]:
            yield b"".join(rest)

    def _csv(self) -> Iterator[Record]:
        bad: list[int] = []
        quoted = [False]
        lines = self._lines(bad, self.first_line, quoted)
        reader = csv.reader(lines, delimiter=self.delimiter, strict=False)
        width = len(self.columns)
        previous = 0
        while True:
            start = self.first_line + previous + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                previous = reader.line_num
                yield Record(
                    start, {}, f"the row cannot be read as CSV ({error}); check its quotes"
                )
                bad.clear()
                continue
            end = reader.line_num
            previous = end
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                bad.clear()
                continue
            problem = None
            if bad:
                problem = (
                    f"line {bad[0]} is not valid {self.encoding}; fix it or pass --encoding "
                    "(for example --encoding latin-1)"
                )
                bad.clear()
            elif len(cells) != width:
                problem = (
                    f"the row has {len(cells)} cells but the header has {width}; "
                    "check its quotes and delimiters"
                )
            # latte's export writes a leading apostrophe before a would-be formula: undo it
            # (only rows whose lines hold an apostrophe can have one).
            plain = cells
            if quoted[0]:
                quoted[0] = False
                plain = [
                    c[1:] if c[:1] == "'" and c.lstrip("'")[:1] in FORMULA_START else c
                    for c in cells
                ]
            yield Record(start, {}, problem, cells, plain)

    def _jsonl(self) -> Iterator[Record]:
        bad: list[int] = []
        start = self.first_line - 1
        for number, text in enumerate(self._lines(bad, start), start=self.first_line):
            if not text.strip():
                bad.clear()
                continue
            if bad:
                bad.clear()
                yield Record(
                    number,
                    {},
                    f"line {number} is not valid {self.encoding}; fix it or pass --encoding",
                    {"_text": text.rstrip("\r\n")},
                )
                continue
            try:
                data = json.loads(text)
            except ValueError as error:
                yield Record(
                    number,
                    {},
                    f"the line is not a JSON object ({error})",
                    {"_text": text.rstrip("\r\n")},
                )
                continue
            if not isinstance(data, dict):
                yield Record(
                    number, {}, "the line is not a JSON object", {"_text": text.rstrip("\r\n")}
                )
                continue
            values: dict[str, str] = {}
            problem = None
            for key, value in data.items():
                if value is None:
                    values[str(key)] = ""
                elif isinstance(value, bool):
                    values[str(key)] = "true" if value else "false"
                elif isinstance(value, float) and self.decimal_mark != ".":
                    # A JSON number's fraction is always after a point: 1.234 is not 1234
                    # when the file's text amounts are written 1.234,50. A whole number
                    # (9.0) is written without one, as whole-number fields read it.
                    whole = value.is_integer() and abs(value) < 1e15
                    text = str(int(value)) if whole else str(value)
                    values[str(key)] = text.replace(".", self.decimal_mark)
                elif isinstance(value, str | int | float):
                    values[str(key)] = str(value)
                else:
                    problem = problem or f"column {key}: a list or object is not a value"
            yield Record(number, values, problem, data)


def _strip_bom(line: bytes, encoding: str) -> tuple[bytes, str]:
    if line.startswith(codecs.BOM_UTF8):
        return line[len(codecs.BOM_UTF8) :], "utf-8"
    return line, encoding


def open_source(
    path: str,
    *,
    encoding: str | None = None,
    format: str | None = None,
    stdin: IO[bytes] | None = None,
    decimal_mark: str = ".",
) -> Source:
    """Open `path` (`-` for stdin) and read its header. Raises InvalidValue for a file that
    cannot be read at all: missing, empty, UTF-16 or without a header."""
    if path == "-":
        inner: IO[bytes] = stdin or sys.stdin.buffer
        name, size = "stdin", None
    else:
        file = Path(path)
        try:
            inner = file.open("rb")
        except OSError as error:
            raise InvalidValue(
                f"Cannot read {path}: {error.strerror or error}. Check the path."
            ) from None
        name, size = str(file), file.stat().st_size
    enc = (encoding or "utf-8").strip()
    try:
        enc = codecs.lookup(enc).name
        _text_codec(enc)
    except LookupError:
        inner.close()
        raise InvalidValue(
            f"Unknown encoding {encoding!r}. Use a name such as utf-8, latin-1 or cp1252."
        ) from None
    if enc.startswith(("utf-16", "utf-32")):
        inner.close()
        raise InvalidValue(
            f"{enc} files are not read line by line; convert the file to UTF-8 first "
            "(for example: iconv -f UTF-16 -t UTF-8)."
        )
    counter = CountingReader(inner)
    stream = io.BufferedReader(counter, buffer_size=1 << 16)
    first = b""
    first_line = 0
    while line := stream.readline(HEADER_LIMIT + 1):
        if len(line) > HEADER_LIMIT:
            stream.close()
            raise InvalidValue(
                f"The first line of {name} is longer than {HEADER_LIMIT:,} bytes: it is not a "
                "header. Check that this is the CSV or JSONL file to import."
            )
        first = line
        first_line += 1
        if line.strip(b"\xef\xbb\xbf \t\r\n"):
            break
    first, enc_first = _strip_bom(first, enc)
    if first[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        stream.close()
        raise InvalidValue(
            f"{name} is UTF-16; convert it to UTF-8 first (for example: iconv -f UTF-16 -t UTF-8)."
        )
    if not first.strip():
        stream.close()
        raise InvalidValue(f"{name} is empty: there is no header or row to import.")
    kind = (format or "").lower() or _guess_format(name, first)
    if kind not in ("csv", "jsonl"):
        stream.close()
        raise InvalidValue(f"Unknown format {format!r}: use csv or jsonl.")
    source = Source(
        name, kind, stream, counter, enc, size, first_line=first_line, decimal_mark=decimal_mark
    )
    if kind == "jsonl":
        source._first = first
        return source
    if b"\x00" in first:
        stream.close()
        raise InvalidValue(
            f"{name} holds binary data, not text. Check that this is the CSV file to import."
        )
    try:
        header = first.decode(enc_first)
    except UnicodeDecodeError:
        stream.close()
        raise InvalidValue(
            f"The header of {name} is not valid {enc}. Pass --encoding (e.g. --encoding latin-1)."
        ) from None
    source.delimiter = (
        max(DELIMITERS, key=header.count) if any(d in header for d in DELIMITERS) else ","
    )
    try:
        source.columns = next(csv.reader([header], delimiter=source.delimiter))
    except (csv.Error, StopIteration):
        stream.close()
        raise InvalidValue(
            f"The header of {name} cannot be read as CSV. Check its quotes and delimiters."
        ) from None
    return source


def _text_codec(encoding: str) -> None:
    """Raise LookupError for a codec that is not a text encoding (rot13, base64...)."""
    with contextlib.suppress(UnicodeDecodeError):
        b"a".decode(encoding)


def _guess_format(name: str, first: bytes) -> str:
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    return "jsonl" if first.lstrip().startswith(b"{") else "csv"
