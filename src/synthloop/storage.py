"""Where a run keeps its files: a local or shared folder, or an object store, through pyarrow's
filesystem layer (`pyarrow.fs`), so workers on other machines read and write the same run directory.

A location is written as a path (`runs/a`, `/mnt/shared/runs/a`) or a URI. URIs pyarrow knows
(`file://`, `s3://`, `gs://`, `abfs://`, `hdfs://`) go to `pyarrow.fs.FileSystem.from_uri`; any other
scheme fsspec knows (`memory://`, `gcs://`, ...) is wrapped in `pyarrow.fs.PyFileSystem(FSSpecHandler)`,
as pyarrow's "Using fsspec-compatible filesystems" guide describes.

Writes are atomic: on an object store one PUT makes the object appear whole or not at all; on a
filesystem a file is written under a temporary name unique to the writer (process and random
suffix: pids repeat across machines) and moved into place.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

# filesystems where a written object appears atomically on close and a "move" is a copy
OBJECT_STORES = ("s3", "gcs", "abfs", "py::fsspec+s3", "py::fsspec+gcs", "py::fsspec+gs", "py::fsspec+abfs")
TEMPORARY = ".tmp"


class StorageError(ValueError):
    """A location that names no filesystem this process can open."""


@dataclass(frozen=True)
class Location:
    """A file or folder on a pyarrow filesystem; `text` is how it is shown (the path or URI given)."""

    fs: pafs.FileSystem
    path: str
    text: str

    @classmethod
    def of(cls, where: str | os.PathLike | Location) -> Location:
        if isinstance(where, Location):
            return where
        text = os.fspath(where)
        if "://" not in text:
            return cls(pafs.LocalFileSystem(), os.path.abspath(text), text.rstrip("/") or text)
        try:
            fs, path = pafs.FileSystem.from_uri(text)
        except pa.ArrowInvalid:
            fs, path = _fsspec(text)
        return cls(fs, path.rstrip("/"), text.rstrip("/"))

    def __truediv__(self, name: str) -> Location:
        return Location(self.fs, f"{self.path}/{name}", f"{self.text}/{name}")

    def __str__(self) -> str:
        return self.text

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def parent(self) -> Location:
        return Location(self.fs, self.path.rsplit("/", 1)[0], self.text.rsplit("/", 1)[0])

    @property
    def local(self) -> Path | None:
        """The local path, when the filesystem is this machine's (or a shared mount)."""
        return Path(self.path) if isinstance(self.fs, pafs.LocalFileSystem) else None

    def _type(self) -> pafs.FileType:
        return self.fs.get_file_info(self.path).type

    def exists(self) -> bool:
        return self._type() != pafs.FileType.NotFound

    def is_dir(self) -> bool:
        return self._type() == pafs.FileType.Directory

    def read_bytes(self) -> bytes:
        with self.fs.open_input_stream(self.path) as stream:
            return stream.read()

    def read_text(self) -> str:
        return self.read_bytes().decode()

    def parquet(self) -> pq.ParquetFile:
        return pq.ParquetFile(self.fs.open_input_file(self.path))

    def read_parquet(self, columns: list[str] | None = None) -> pa.Table:
        """One Parquet file (through ParquetFile: `pq.read_table` would import pyarrow.dataset, ~0.5 s
        of CPU in every process)."""
        return self.parquet().read(columns=columns)

    def write_bytes(self, data: bytes) -> None:
        self._write(lambda sink: sink.write(data))

    def write_parquet(self, table: pa.Table) -> None:
        self._write(lambda sink: pq.write_table(table, sink, compression="zstd"))

    def _write(self, write: Callable[[pa.NativeFile], object]) -> None:
        if self.fs.type_name in OBJECT_STORES:
            with self.fs.open_output_stream(self.path) as sink:
                write(sink)
            return
        self.fs.create_dir(self.parent.path, recursive=True)
        # hidden (a leading "."), so a write that never finished is never taken for data
        tmp = (self.parent / f".{self.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}{TEMPORARY}").path
        with self.fs.open_output_stream(tmp) as sink:
            write(sink)
        self.fs.move(tmp, self.path)

    def files(self, suffix: str, recursive: bool = True) -> list[Location]:
        """The files under this folder whose name ends with `suffix`, sorted by path (none when the
        folder does not exist)."""
        selector = pafs.FileSelector(self.path, recursive=recursive, allow_not_found=True)
        found = sorted(info.path for info in self.fs.get_file_info(selector)
                       if info.type == pafs.FileType.File and info.path.endswith(suffix))
        return [Location(self.fs, path, self.text + path[len(self.path):]) for path in found]

    def unlink(self) -> None:
        if self.exists():
            self.fs.delete_file(self.path)

    def remove_tree(self) -> None:
        if self.is_dir():
            self.fs.delete_dir(self.path)


def _fsspec(uri: str) -> tuple[pafs.FileSystem, str]:
    try:
        import fsspec
    except ImportError:
        raise StorageError(f"{uri}: pyarrow does not know this filesystem; fsspec might "
                           "(pip install fsspec and the package for the scheme)") from None
    try:
        fs, path = fsspec.core.url_to_fs(uri)
    except (ImportError, ValueError) as err:
        raise StorageError(f"{uri}: no filesystem for it ({' '.join(str(err).split())})") from None
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), path
