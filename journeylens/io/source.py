"""Bytes in: the checks every file reader makes before it parses anything.

* Only regular files are read. A FIFO, a socket or a device (``/dev/zero``)
  would block or never end, so it is refused before it is opened for reading
  (and checked again on the open handle).
* Gzip is recognised by its magic bytes, whatever the file is called.
* Decompressed input is bounded: ``max_bytes`` (a reader option) caps the bytes
  read from one input. By default a plain file is read whole and a compressed
  one may inflate to :data:`BOMB_RATIO` times its size on disk plus
  :data:`BOMB_FLOOR` bytes; beyond that the reader stops with an error naming
  the option, before inflating the rest (a compression bomb never fills memory).
* Text that starts like a binary file (many control bytes in the first block)
  is refused after reading that block only.
"""

from __future__ import annotations

import gzip
import os
import stat
import zlib
from typing import IO, Iterator

from ..errors import InputError

GZIP_MAGIC = b"\x1f\x8b"
#: a compressed input may inflate to this many times its size on disk (plus BOMB_FLOOR) unless max_bytes says otherwise
BOMB_RATIO = 100
BOMB_FLOOR = 32 << 20
CHUNK = 1 << 20
_SNIFF = 4096


def regular_file(name: str) -> os.stat_result:
    """``os.stat`` of ``name``; a one-line error unless it is an existing regular file."""
    try:
        info = os.stat(name)
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"{name}: is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{name}: not a regular file ({_kind(info.st_mode)}); journeylens reads files only, "
                         "so that a read always ends: copy the data to a file first")
    return info


def _kind(mode: int) -> str:
    for test, kind in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a plain file"


def open_regular(name: str) -> IO[bytes]:
    """The file opened for binary reading; never blocks, even when a FIFO replaced it after the check."""
    regular_file(name)
    try:
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InputError(f"{name}: not a regular file")
    return os.fdopen(fd, "rb")


def limit_for(name: str, compressed: bool, max_bytes: int | None) -> int | None:
    """The most bytes one input may yield: ``max_bytes``, else the compression-bomb default (None: no limit)."""
    if max_bytes is not None:
        return max_bytes
    if not compressed:
        return None
    return BOMB_RATIO * os.stat(name).st_size + BOMB_FLOOR


class Input:
    """A regular file's decompressed bytes, read in chunks under the byte limit.

    Use as a context manager; :meth:`chunks` yields the bytes, :meth:`read_all`
    returns them at once. ``compressed`` tells whether the file is gzip.
    """

    def __init__(self, name: str, max_bytes: int | None = None) -> None:
        self.name = name
        self._raw = open_regular(name)
        try:
            self.compressed = self._raw.read(2) == GZIP_MAGIC
            self._raw.seek(0)
        except OSError as exc:  # a file that opens but cannot be read (/proc/self/mem, a failing disk)
            self._raw.close()
            raise InputError(f"{name}: cannot read ({exc.strerror or exc})") from None
        self._stream: IO[bytes] = gzip.GzipFile(fileobj=self._raw, mode="rb") if self.compressed else self._raw
        self.limit = limit_for(name, self.compressed, max_bytes)
        self.consumed = 0

    def __enter__(self) -> "Input":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stream.close()
        self._raw.close()

    def read(self, size: int = CHUNK) -> bytes:
        """Up to ``size`` bytes (b"" at the end); an error once the limit is passed."""
        try:
            data = self._stream.read(size)
        except EOFError:
            raise InputError(f"{self.name}: truncated file (the gzip stream ends early)") from None
        except (gzip.BadGzipFile, zlib.error, OSError) as exc:
            raise InputError(f"{self.name}: truncated or corrupt gzip data ({exc})") from None
        self.consumed += len(data)
        if self.limit is not None and self.consumed > self.limit:
            raise InputError(self._over_limit())
        return data

    def _over_limit(self) -> str:
        if self.compressed:
            return (f"{self.name}: decompresses to more than {self.limit:,} bytes (a compression bomb?); "
                    f"pass max_bytes=… to read more")
        return f"{self.name}: larger than max_bytes={self.limit:,}; pass a larger max_bytes=… to read it"

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        while True:
            data = self.read(size)
            if not data:
                return
            yield data

    def read_all(self, refuse_binary: bool = True) -> bytes:
        """Every byte, refusing binary content after the first block when ``refuse_binary``."""
        parts = []
        for k, chunk in enumerate(self.chunks()):
            if k == 0 and refuse_binary:
                refuse_binary_head(chunk, self.name)
            parts.append(chunk)
        return b"".join(parts) if len(parts) != 1 else parts[0]


def refuse_binary_head(head: bytes, name: str) -> None:
    """An error when the first block holds many control bytes (UTF-16/32 byte-order marks excepted)."""
    from codecs import BOM_UTF16_BE, BOM_UTF16_LE

    head = head[:_SNIFF]
    if head.startswith((BOM_UTF16_LE, BOM_UTF16_BE)):
        return
    controls = sum(head.count(bytes((b,))) for b in range(32) if b not in (9, 10, 13))
    if head and controls > 0.05 * len(head):
        raise InputError(f"{name}: looks like a binary file, not delimited text")


def read_bytes(name: str, max_bytes: int | None = None, refuse_binary: bool = True) -> bytes:
    """The decompressed bytes of a regular file, under the byte limit (see the module docstring)."""
    with Input(name, max_bytes) as source:
        return source.read_all(refuse_binary)
