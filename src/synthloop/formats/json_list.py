"""Stream the records of a JSON list file without loading the file: memory holds one chunk and one record.

LLaVA training files are single JSON lists of up to millions of records (mix665k is 1 GB). The
standard library's C decoder (`raw_decode`) parses one record at a time from a sliding text
window; a record cut by the window's end fails to parse, so the window grows and it is retried.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

CHUNK_BYTES = 1 << 22
WHITESPACE = " \t\n\r"


class JsonListError(ValueError):
    """Malformed JSON list; `line` and `column` are 1-based."""

    def __init__(self, line: int, column: int, problem: str):
        super().__init__(f"line {line} column {column}: {problem}")
        self.line, self.column, self.problem = line, column, problem


class _Window:
    """A sliding window of decoded text over a file, with the line number of its read position."""

    def __init__(self, file: BinaryIO, chunk_bytes: int):
        self.file, self.chunk_bytes = file, chunk_bytes
        self.utf8 = codecs.getincrementaldecoder("utf-8")()
        self.text, self.pos, self.line, self.eof = "", 0, 1, False
        self.dropped = 0  # characters dropped from the window's front
        self.line_start = 0  # absolute offset of the current line's first character

    def fill(self) -> bool:
        """Append the next chunk (dropping what was read); False at the end of the file."""
        if self.eof:
            return False
        data = self.file.read(self.chunk_bytes)
        self.eof = not data
        self.dropped += self.pos
        self.text = self.text[self.pos:] + self.utf8.decode(data, final=self.eof)
        self.pos = 0
        return True

    def advance(self, end: int) -> None:
        newlines = self.text.count("\n", self.pos, end)
        if newlines:
            self.line += newlines
            self.line_start = self.dropped + self.text.rfind("\n", self.pos, end) + 1
        self.pos = end

    def peek(self) -> str:
        """The next non-whitespace character ("" at the end of the file), not consumed."""
        while True:
            end = self.pos
            while end < len(self.text) and self.text[end] in WHITESPACE:
                end += 1
            self.advance(end)
            if self.pos < len(self.text) or not self.fill():
                return self.text[self.pos: self.pos + 1]

    def error(self, problem: str, at: int | None = None) -> JsonListError:
        """The error at window offset `at` (default: the read position; never before it)."""
        self.advance(self.pos if at is None else at)
        return JsonListError(self.line, self.dropped + self.pos - self.line_start + 1, problem)

    def value(self, decoder: json.JSONDecoder) -> Any:
        while True:
            try:
                value, end = decoder.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as err:
                if self.fill():
                    continue
                raise self.error(f"malformed JSON ({err.msg})", err.pos) from None
            except RecursionError:  # the C decoder recurses once per nesting level
                raise self.error("record nested too deeply to read") from None
            # a value touching the window's end (a number, say) may go on in the next chunk
            if end == len(self.text) and self.fill():
                continue
            self.advance(end)
            return value


def iter_json_list(path: str | Path, chunk_bytes: int = CHUNK_BYTES) -> Iterator[tuple[int, Any]]:
    """(line the record starts on, record) for each item of the JSON list in `path`.

    Raises JsonListError for malformed JSON and UnicodeDecodeError for bytes that are not UTF-8.
    """
    decoder = json.JSONDecoder()
    with open(path, "rb") as file:
        window = _Window(file, chunk_bytes)
        if window.peek() != "[":
            raise window.error("expected a JSON list of records")
        window.advance(window.pos + 1)
        if window.peek() == "]":
            window.advance(window.pos + 1)
        else:
            while True:
                window.peek()
                line = window.line
                yield line, window.value(decoder)
                after = window.peek()
                if after not in (",", "]"):
                    raise window.error("expected ',' or ']' after a record")
                window.advance(window.pos + 1)
                if after == "]":
                    break
        if window.peek() != "":
            raise window.error("unexpected data after the list")
