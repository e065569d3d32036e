"""Everything the target sends is data (issue 21, item 2): JSON of any depth is read as JSON or
as not JSON, never as an exception; a body is decoded with its size limit held on the decoded
bytes, whatever its chain of Content-Encodings. (Whole runs against such targets:
tests/e2e/test_hostile_parse.py.)"""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import jsonschema
import pytest
from jwt.utils import base64url_encode

import conformance
from conformance.dpop.json_text import MAX_DEPTH, UnreadableJSON, read_json, read_segment
from conformance.dpop.proofs import decode_unverified
from conformance.dpop.tokens import claims_of, header_of
from conformance.report.exchange_text import exchange_text
from conformance.report.results import exchange_record
from conformance.spec.catalogue import SCHEMAS
from conformance.wire import redact
from conformance.wire.client import MAX_BODY_BYTES
from conformance.wire.decoding import BoundedBody
from conformance.wire.exchange import Exchange
from support import SUPPORT
from support.faulty_target import deep_json

DEEP = deep_json().decode()


# --- JSON of any depth

@pytest.mark.parametrize("text", [DEEP, "{\"a\":" * 30_000 + "1" + "}" * 30_000, "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)])
def test_json_deeper_than_the_bound_is_unreadable_not_a_recursion_error(text):
    with pytest.raises(UnreadableJSON, match="levels deep"):
        read_json(text)


def test_the_bound_is_the_callers():
    assert read_json("[[[1]]]") == [[[1]]]
    with pytest.raises(UnreadableJSON, match="nested 3 levels deep, more than the 2"):
        read_json("[[[1]]]", max_depth=2)
    with pytest.raises(UnreadableJSON, match="characters"):
        read_json("[1]", max_chars=2)


def test_json_up_to_the_bound_is_read_and_brackets_in_strings_do_not_count():
    assert read_json("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    assert read_json(json.dumps({"detail": "[" * 10_000})) == {"detail": "[" * 10_000}
    assert read_json(b'{"a": "\\"[[[["}') == {"a": '"[[[['}


@pytest.mark.parametrize("text", ["", "{", "not json", b"\xff\xfe\xfd", "1" * 5000])
def test_text_that_is_not_json_is_unreadable(text):
    with pytest.raises(UnreadableJSON):
        read_json(text)


def test_a_deep_body_is_not_json_for_judges_and_reports():
    ex = Exchange("GET", "http://t/x", [], status=401, response_headers=[("content-type", "application/problem+json")], body_text=DEEP[:60_000])
    assert ex.json() is None and ex.json_member("type") is None
    assert "401" in ex.summary()
    assert exchange_record(ex)["problem"] is None


def deep_token() -> str:
    header = base64url_encode(b'{"alg":"HS256","typ":"JWT"}').decode()
    payload = base64url_encode(b'{"a":' + deep_json(5_000) + b"}").decode()
    return f"{header}.{payload}.c2ln"


def test_a_deeply_nested_token_from_the_target_is_not_read_as_a_token():
    token = deep_token()
    assert claims_of(token) is None and header_of(token) is None
    assert redact.decode(token) == ({"alg": "HS256", "typ": "JWT"}, None)
    assert token not in redact.redact_text(f"Bearer {token}")  # still shown as its view, not whole
    with pytest.raises(UnreadableJSON):
        read_segment(token.split(".")[1])
    with pytest.raises(Exception) as caught:  # a proof the suite cannot read stays a refusal, never a RecursionError
        decode_unverified(token.replace("HS256", "XX"))
    assert not isinstance(caught.value, RecursionError)


# --- bodies decoded with the limit on the decoded bytes

def decoded(encoding: str | None, body: bytes, limit: int = MAX_BODY_BYTES, step: int = 4096) -> BoundedBody:
    reader = BoundedBody(encoding, limit)
    for i in range(0, len(body), step):
        reader.feed(body[i:i + step])
        if reader.done:
            return reader
    reader.finish()
    return reader


def test_codings_are_undone_last_applied_first():
    text = b'{"status": 401}'
    assert decoded("gzip", gzip.compress(text)).body == text
    assert decoded("x-gzip", gzip.compress(text)).body == text
    assert decoded("deflate", zlib.compress(text)).body == text
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert decoded("deflate", raw.compress(text) + raw.flush()).body == text  # raw deflate, as some servers send
    both = decoded("deflate, gzip", gzip.compress(zlib.compress(text)))
    assert both.body == text and both.note is None and not both.truncated
    assert decoded("identity", text).body == text and decoded(None, text).body == text


def test_a_coding_the_suite_cannot_undo_keeps_the_body_as_it_is_from_there():
    reader = decoded("br, gzip", gzip.compress(b"brotli bytes"))
    assert reader.body == b"brotli bytes" and "'br'" in reader.note


def test_a_body_that_is_not_its_coding_is_kept_with_a_note():
    reader = decoded("gzip", b'{"status": 401}')
    assert reader.done and reader.body == b"" and "not valid gzip" in reader.note
    cut = decoded("gzip", gzip.compress(b"x" * 1000)[:20])
    assert "ended inside its gzip stream" in cut.note


def test_the_note_is_in_the_results_and_their_text_only_when_there_is_one():
    schema = json.loads((SCHEMAS / "results.schema.json").read_text(encoding="utf-8"))
    exchange_schema = jsonschema.Draft202012Validator({"$ref": "#/$defs/exchange", "$defs": schema["$defs"]})
    noted = Exchange("GET", "http://t/health", [], status=200, body_note="the body is not valid gzip (...)")
    record = exchange_record(noted)
    assert record["body_note"] == noted.body_note and list(exchange_schema.iter_errors(record)) == []
    assert "< (the body is not valid gzip (...))" in exchange_text(record)
    plain = exchange_record(Exchange("GET", "http://t/health", [], status=200, body_text="{}"))
    assert "body_note" not in plain and "(the body" not in exchange_text(plain)


def test_a_large_body_is_cut_at_the_limit_on_its_decoded_bytes():
    reader = decoded("gzip", gzip.compress(bytes(10 * MAX_BODY_BYTES)))
    assert len(reader.body) == MAX_BODY_BYTES and reader.truncated
    plain = decoded(None, b"y" * (MAX_BODY_BYTES + 1))
    assert len(plain.body) == MAX_BODY_BYTES and plain.truncated
    exact = decoded("gzip", gzip.compress(b"z" * MAX_BODY_BYTES))
    assert len(exact.body) == MAX_BODY_BYTES and not exact.truncated


EMPTY_STORED_BLOCK = b"\x00\x00\x00\xff\xff"  # raw deflate: a stored block, not the last, of no bytes


@pytest.mark.parametrize("encoding, body, where", [
    ("deflate, gzip", gzip.compress(EMPTY_STORED_BLOCK * 400_000), "gzip layer alone"),  # expands into nothing
    ("deflate", EMPTY_STORED_BLOCK * 400_000, "on the wire"),  # two MB that decode to nothing
])
def test_an_encoding_that_yields_nothing_is_cut(encoding, body, where):
    reader = decoded(encoding, body)
    assert reader.truncated and "yields too little for its size" in reader.note and where in reader.note
    assert len(reader.body) == 0


BOMB_PROGRAM = """
import sys, tracemalloc
sys.path.insert(0, {support!r})
from faulty_target import stacked_gzip_bomb
from conformance.wire.decoding import BoundedBody
from conformance.wire.client import MAX_BODY_BYTES
bomb = stacked_gzip_bomb()
tracemalloc.start()
reader = BoundedBody("gzip, gzip", MAX_BODY_BYTES)
for i in range(0, len(bomb), 4096):
    reader.feed(bomb[i:i + 4096])
    if reader.done:
        break
# VmHWM, this process's own peak: getrusage's maxrss starts from the parent's at fork/exec
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(len(bomb), len(reader.body), reader.truncated, tracemalloc.get_traced_memory()[1], peak_kb // 1024)
"""


def test_a_gzip_of_a_gzip_bomb_decodes_in_bounded_memory_and_is_cut_at_the_limit():
    program = BOMB_PROGRAM.format(support=str(SUPPORT))
    env = {**os.environ, "PYTHONPATH": str(Path(conformance.__file__).parents[1])}  # this tree's conformance
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120, check=True, env=env).stdout
    wire, kept, truncated, traced, peak_mb = out.split()
    assert int(wire) < 10_000  # a few KB on the wire for a gigabyte decoded
    assert int(kept) == MAX_BODY_BYTES and truncated == "True"
    assert int(traced) < 2 << 20, f"{int(traced) >> 10} KB allocated while decoding"
    assert int(peak_mb) < 100, f"peak RSS {peak_mb} MB"
