"""The one way the suite reads JSON the target sent (bodies, token and proof segments): bounded.

json.loads recurses once per nesting level: a body of 30,000 `[` raises RecursionError, which is
not a ValueError and so escaped every `except ValueError` (pytest INTERNALERROR at discovery, 860
checks ending as Python errors); a value a few hundred levels deep parses, then breaks whatever
walks it later (redaction, the report's JSON). So the depth is measured on the text first, and
anything deeper than MAX_DEPTH, longer than MAX_CHARS, or not JSON raises UnreadableJSON, a
ValueError: a body the suite cannot read is judged as what it is, not JSON.
"""
from __future__ import annotations

import json
import re
from itertools import accumulate

from jwt.exceptions import DecodeError
from jwt.utils import base64url_decode

MAX_DEPTH = 64  # ARCP's documents nest three or four levels
MAX_CHARS = 1 << 20  # a token segment or a body: the client keeps bodies far smaller (64 KB)

_STRING = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"', re.S)  # linear: no backtracking into a string
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class UnreadableJSON(ValueError):
    """Text the suite does not read as JSON: invalid, too deep or too long (the message says which)."""


def nesting_depth(text: str, enough: int = MAX_DEPTH) -> int:
    """The deepest nesting of arrays and objects in `text`, brackets inside strings not counted
    (an unterminated string's brackets are: the text is not JSON then anyway). Exact when deeper
    than `enough`; otherwise it may be the number of opening brackets, which bounds it (and costs
    two passes in C where most bodies have a handful of brackets)."""
    openings = text.count("[") + text.count("{")
    if openings <= enough:
        return openings
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets), initial=0))


def read_json(text: str | bytes, *, max_depth: int = MAX_DEPTH, max_chars: int = MAX_CHARS) -> object:
    """`text` parsed as JSON, or UnreadableJSON (a ValueError) when it is not JSON the suite reads."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode(json.detect_encoding(text), "surrogatepass")  # as json.loads does
        except UnicodeDecodeError as error:
            raise UnreadableJSON(str(error)) from None
    if len(text) > max_chars:
        raise UnreadableJSON(f"{len(text)} characters, more than the {max_chars} the suite reads as JSON")
    depth = nesting_depth(text, max_depth)
    if depth > max_depth:
        raise UnreadableJSON(f"nested {depth} levels deep, more than the {max_depth} the suite reads")
    try:
        return json.loads(text)
    except RecursionError:  # unreachable after the depth check; kept so no caller ever sees one
        raise UnreadableJSON("nested too deep for the parser") from None
    except ValueError as error:
        raise UnreadableJSON(str(error)) from None


def read_segment(segment: str) -> object:
    """A JWS segment (base64url of JSON, as a token or proof carries its header and claims) parsed,
    bounded as read_json is; UnreadableJSON when it is not base64url of JSON the suite reads."""
    try:
        return read_json(base64url_decode(segment))
    except (DecodeError, TypeError, ValueError) as error:
        raise UnreadableJSON(f"not base64url of readable JSON: {error}") from None
