"""A response body decoded as it arrives, its size limit held on the decoded bytes.

httpx decodes a body chunk by chunk, each whole: `Content-Encoding: gzip, gzip` (a gzip of a gzip
bomb, a few KB on the wire) made one chunk of gigabytes before the client could count it (4 GB
resident). Here the client reads the raw bytes and undoes the codings itself, each decompressor
asked for a bounded amount at a time (zlib's max_length and unconsumed_tail), counting the decoded
bytes while decoding and stopping at the limit.

Codings are undone last applied first (RFC 9110 §8.4). gzip, x-gzip and deflate are decoded;
identity is nothing to undo; any other (br and zstd too: the suite installs neither decoder) stops
the decoding there and the body is kept as it is from that coding on, with a note. A body that is
not what its coding says is data too: what was decoded up to the fault is kept, with a note.
"""
from __future__ import annotations

import zlib

GZIP_CODINGS = ("gzip", "x-gzip")
STEP_BYTES = 16 << 10  # what an inner decompressor hands on at a time
# The raw body, and what any decompressor but the last hands on, is cut at this multiple of the
# limit: a legitimate encoding is smaller than what it encodes; one that expands into nothing
# (empty deflate blocks, gzipped again) would otherwise be decoded until the request's timeout.
WORK_FACTOR = 4


class _Deflate:
    """`deflate` as servers send it: zlib-wrapped (RFC 9110) or, as some do, raw (httpx accepts both)."""

    def __init__(self):
        self._inner = zlib.decompressobj()
        self._raw_tried = False
        self._produced = False

    def decompress(self, data: bytes, max_length: int) -> bytes:
        try:
            out = self._inner.decompress(data, max_length)
        except zlib.error:
            if self._raw_tried or self._produced:
                raise
            self._raw_tried = True
            self._inner = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._inner.decompress(data, max_length)
        self._produced = self._produced or bool(out)
        return out

    @property
    def unconsumed_tail(self) -> bytes:
        return self._inner.unconsumed_tail

    @property
    def eof(self) -> bool:
        return self._inner.eof


def _decompressor(coding: str):
    if coding in GZIP_CODINGS:
        return zlib.decompressobj(zlib.MAX_WBITS | 16)
    if coding == "deflate":
        return _Deflate()
    return None


class BoundedBody:
    """Feed it the raw chunks; `body` is the decoded bytes, at most `limit` of them. `done`: read
    nothing more (the limit is reached or the coding is broken); `truncated`: the body went on past
    what is kept; `note`: what the suite could not decode, in words, or None."""

    def __init__(self, content_encoding: str | None, limit: int):
        self.limit = limit
        self.body = bytearray()
        self.truncated = False
        self.done = False
        self.note: str | None = None
        self._codings: list[str] = []
        self._stages: list = []
        codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
        for coding in reversed(codings):
            if coding == "identity":
                continue
            stage = _decompressor(coding)
            if stage is None:
                self.note = f"Content-Encoding {coding!r} is not decoded by the suite: the body is kept as it is from that coding on"
                break
            self._codings.append(coding)
            self._stages.append(stage)
        self._work = WORK_FACTOR * limit
        self._raw = 0
        self._handed_on = [0] * len(self._stages)

    def feed(self, chunk: bytes) -> None:
        if self.done:
            return
        self._raw += len(chunk)
        if self._raw > self._work and self._stages:
            self._expands(f"{self._raw} bytes on the wire")
            return
        self._push(0, chunk)

    def finish(self) -> None:
        """The body ended: say so if a coding's stream had not (the body was cut short)."""
        self._push(0, b"")
        if not self.done and self.note is None:
            open_ = [c for c, s in zip(self._codings, self._stages) if not s.eof]
            if open_:
                self.note = f"the body ended inside its {open_[0]} stream: kept as decoded up to there"

    def _push(self, i: int, data: bytes) -> None:
        if self.done:
            return
        if i == len(self._stages):
            room = self.limit - len(self.body)
            self.body += data[:room]
            if len(data) > room:
                self.truncated = self.done = True
            return
        stage, last = self._stages[i], i == len(self._stages) - 1
        while not self.done and not stage.eof:
            want = self.limit + 1 - len(self.body) if last else STEP_BYTES
            try:
                out = stage.decompress(data, want)
            except zlib.error as error:
                self.note = f"the body is not valid {self._codings[i]} ({error}): kept as decoded up to there"
                self.done = True
                return
            data = stage.unconsumed_tail
            if not last:
                self._handed_on[i] += len(out)
                if self._handed_on[i] > self._work:
                    self._expands(f"its {self._codings[i]} layer alone decoded to {self._handed_on[i]} bytes")
                    return
            self._push(i + 1, out)
            if not out and not data:
                return

    def _expands(self, how: str) -> None:
        self.note = f"the body's encoding yields too little for its size ({how}, fewer than {self.limit} bytes of body): cut there"
        self.truncated = self.done = True
