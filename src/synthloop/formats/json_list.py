"""Stream the records of a JSON list file without loading the file: memory holds one chunk and one record.

LLaVA training files are single JSON lists of up to millions of records (mix665k is 1 GB). The
standard library's C decoder (`raw_decode`) parses one record at a time from a sliding text
window; a record cut by the window's end fails to parse, so the window grows and it is retried.

`iter_items` and `iter_pairs` stream the list at a key path (`{"annotations": [...]}`) or the
members of a top-level object, for the public datasets' annotation files. Lists of objects are
parsed a batch at a time by orjson (about twice as fast as record by record): the batch ends where
the window's last item that starts like the current one begins, and it is taken only when orjson
parses it whole, which from an item's start means it is exactly a run of items. Anything else (a
cut inside a string, an integer past 64 bits, which orjson reads as a float, `NaN`, bad JSON) is
read record by record as before, so the values and errors are the standard decoder's.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import Any, BinaryIO

import orjson

CHUNK_BYTES = 1 << 22
ITEMS_CHUNK_BYTES = 1 << 20  # `iter_items` reads two files at once (VQA's questions and annotations)
BATCH_CHARS = 1 << 16  # most text one orjson batch parses (bigger batches cost more in GC than they save)
WHITESPACE = " \t\n\r"
DIGITS_AS_ZEROS = bytes(48 if 48 <= byte <= 57 else 120 for byte in range(256))  # "0" for a digit, else "x"
LONG_NUMBER = b"0" * 20  # 20 digits in a row: maybe an integer past 64 bits, which orjson turns into a float


class JsonListError(ValueError):
    """Malformed JSON list; `line` and `column` are 1-based."""

    def __init__(self, line: int, column: int, problem: str):
        super().__init__(f"line {line} column {column}: {problem}")
        self.line, self.column, self.problem = line, column, problem


class IntegerTooLarge(ValueError):
    """An integer outside what orjson (and so every writer) stores: [-2**63, 2**64)."""


def _stored_int(digits: str) -> int:
    value = int(digits)
    if not -(2**63) <= value < 2**64:
        raise IntegerTooLarge(digits)
    return value


class _Window:
    """A sliding window of decoded text over a file, with the line number of its read position."""

    def __init__(self, file: BinaryIO, chunk_bytes: int):
        self.file, self.chunk_bytes = file, chunk_bytes
        self.utf8 = codecs.getincrementaldecoder("utf-8")()
        self.text, self.pos, self.line, self.eof = "", 0, 1, False
        self.dropped = 0  # characters dropped from the window's front
        self.slow_until = 0  # absolute offset before which `batch` does not try (a try failed there)
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
            except IntegerTooLarge as err:
                raise self.error(f"integer {str(err)[:30]} is past 64 bits") from None
            # a number at the window's end may go on in the next chunk, even one that ends 1 or 2
            # characters before it: `1.` and `1e+` parse as 1, leaving `.` or `e+` behind
            if end >= len(self.text) - 2 and self.fill():
                continue
            self.advance(end)
            return value

    def batch(self) -> list | None:
        """The items from the read position (an object's start) up to the window's last or next-to-last
        item that starts with the same key, parsed by orjson in one call; None where that cannot be
        done exactly. After a failed try, the items up to its end are left to the standard decoder."""
        text, start = self.text, self.pos
        if self.dropped + start < self.slow_until or not text.startswith('{"', start):
            return None
        key_end = text.find('"', start + 2)
        marker, end = text[start:key_end + 1], min(start + BATCH_CHARS, len(text))
        for _ in range(2):  # the last one may be an inner object that starts with the same key
            end = text.rfind(marker, start + 1, end) if key_end > 0 else -1
            if end < 0:
                return None
            items = text[start:end].rstrip()
            data = items[:-1].encode() if items.endswith(",") else b""
            if data and LONG_NUMBER not in data.translate(DIGITS_AS_ZEROS):
                try:
                    batch = orjson.loads(b"[" + data + b"]")
                except orjson.JSONDecodeError:
                    continue
                self.advance(start + len(items) - 1)
                return batch
        self.slow_until = self.dropped + end
        return None


def iter_json_list(path: str | Path, chunk_bytes: int = CHUNK_BYTES) -> Iterator[tuple[int, Any]]:
    """(line the record starts on, record) for each item of the JSON list in `path`.

    Raises JsonListError for malformed JSON and UnicodeDecodeError for bytes that are not UTF-8.
    """
    decoder = json.JSONDecoder()
    with open(path, "rb") as file:
        window = _Window(file, chunk_bytes)
        if window.peek() != "[":
            raise window.error("expected a JSON list of records")
        more = _opened(window, "]")
        while more:
            line = window.line
            yield line, window.value(decoder)
            more = _more(window, "]", "a record")
        if window.peek() != "":
            raise window.error("unexpected data after the list")


def iter_items(path: str | Path, keys: tuple[str, ...] = (), chunk_bytes: int = ITEMS_CHUNK_BYTES) -> Iterator[Any]:
    """The items of the JSON list at `keys` in `path` (`()`: the top-level list; `("questions",)`:
    the list under the top-level object's "questions"); other values are read and dropped, lists item
    by item, so memory holds one chunk and one batch. Raises as `iter_json_list`, and for an integer
    past 64 bits (as ijson, which this replaced, did)."""
    return chain.from_iterable(iter_item_batches(path, keys, chunk_bytes))


def iter_item_batches(path: str | Path, keys: tuple[str, ...] = (),
                      chunk_bytes: int = ITEMS_CHUNK_BYTES) -> Iterator[list]:
    """`iter_items` as lists of consecutive items (what one orjson call parsed, or one item)."""
    decoder = json.JSONDecoder(parse_int=_stored_int)
    with open(path, "rb") as file:
        window = _Window(file, chunk_bytes)
        yield from _batches_at(window, decoder, keys)
        if window.peek() != "":
            raise window.error("unexpected data after the JSON value")


def iter_pairs(path: str | Path, chunk_bytes: int = ITEMS_CHUNK_BYTES) -> Iterator[tuple[str, Any]]:
    """(key, value) of the top-level JSON object in `path`, one member at a time."""
    decoder = json.JSONDecoder(parse_int=_stored_int)
    with open(path, "rb") as file:
        window = _Window(file, chunk_bytes)
        if window.peek() != "{":
            raise window.error("expected a JSON object")
        yield from _members(window, decoder)
        if window.peek() != "":
            raise window.error("unexpected data after the JSON value")


def _batches_at(window: _Window, decoder: json.JSONDecoder, keys: tuple[str, ...]) -> Iterator[list]:
    opening = window.peek()
    if opening == "[":
        batches = _list_batches(window, decoder)
        if keys:
            _drain(batches)
        else:
            yield from batches
    elif opening == "{" and keys:
        for key, _ in _members(window, decoder, keys[0]):
            if key == keys[0]:
                yield from _batches_at(window, decoder, keys[1:])
    else:
        window.value(decoder)


def _members(window: _Window, decoder: json.JSONDecoder, open_key: str | None = None) -> Iterator[tuple[str, Any]]:
    """(key, value) of the object at the read position. For `open_key` the value is not read: the
    consumer reads it from the window before asking for the next member (the value given is None)."""
    more = _opened(window, "}")
    while more:
        key = window.value(decoder)
        if not isinstance(key, str):
            raise window.error("expected a string key")
        if window.peek() != ":":
            raise window.error("expected ':' after a key")
        window.advance(window.pos + 1)
        if key == open_key:
            yield key, None
        elif open_key is not None and window.peek() in "[{":
            _drain(_batches_at(window, decoder, ("",)))  # a list or object read piece by piece, not kept
        else:
            window.peek()
            yield key, window.value(decoder)
        more = _more(window, "}", "a value")


def _list_batches(window: _Window, decoder: json.JSONDecoder) -> Iterator[list]:
    more = _opened(window, "]")
    while more:
        yield window.batch() or [window.value(decoder)]
        more = _more(window, "]", "a record")


def _opened(window: _Window, closing: str) -> bool:
    """Step past a list's or object's opening bracket; False if it closes at once (also stepped past)."""
    window.advance(window.pos + 1)
    if window.peek() == closing:
        window.advance(window.pos + 1)
        return False
    return True


def _more(window: _Window, closing: str, what: str) -> bool:
    """After a value: True at a ',' (the next value's start is peeked), False at `closing` (stepped past)."""
    after = window.peek()
    if after not in (",", closing):
        raise window.error(f"expected ',' or '{closing}' after {what}")
    window.advance(window.pos + 1)
    if after == closing:
        return False
    window.peek()
    return True


def _drain(values: Iterator[Any]) -> None:
    for _ in values:
        pass
