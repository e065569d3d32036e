"""Hypothesis strategies for malformed request bodies (pure: no I/O), drawn as dpop.malformed.BodyChange.

Small strategies, each doing one thing, over an endpoint's valid body (only its member names and
the JSON types of their values are read) and the members it requires:

- `wrong_types(body)`: a member given a value of another JSON type than its valid one;
- `missing_members(required)`: a required member removed;
- `odd_content_types()`: a Content-Type that is not JSON (or none at all);
- `broken_texts(body)`: the JSON text cut short, no body bytes, or bytes that are not UTF-8;
- `extra_members()`, `odd_values(body)`, `json_content_types()`: changes a conformant target may
  take or refuse (a member no ARCP body names, an odd value of the right type, a JSON media type
  written otherwise);
- `body_changes(body, required)`: one malformed body: one or two changes that make it malformed,
  with up to two of the others, on distinct members. A conformant target refuses every example.

Shrinking goes toward one wrong-typed member and nothing else.
"""
from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from .malformed import DROP, JSON_MEDIA_TYPE, BodyChange
from .strategies import ANY_CHARS, any_text, json_values

# members whose value a target acts on beyond the request (phase 2 fetches {endpoint}/health):
# never given a free-form value that could name another host, only values of the wrong type
ACTED_ON = ("endpoint",)
EXTRA_PREFIX = "fz_"  # free-form member names: never a member an ARCP body names
BROKEN_TEXTS = ("truncated", "empty")

_BY_TYPE = {  # JSON values of each type (null is not drawn: an optional member may take it for absent)
    "string": any_text(12),
    "number": st.one_of(st.integers(min_value=-(2**40), max_value=2**40), st.floats(allow_nan=False, allow_infinity=False)),
    "boolean": st.booleans(),
    "list": st.lists(any_text(12), max_size=3),
    "object": st.dictionaries(any_text(8), st.integers(), max_size=2),
}


def json_type(value: Any) -> str:
    """The JSON type of a valid member's value: string, number, boolean, list or object."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "list" if isinstance(value, list) else "object"


def values_not_of(kind: str) -> st.SearchStrategy[Any]:
    """JSON values of any type but `kind`."""
    return st.one_of(*[values for name, values in _BY_TYPE.items() if name != kind])


def wrong_types(body: dict) -> st.SearchStrategy[tuple[str, Any]]:
    """(member, value): a member of `body` with a value of another JSON type."""
    names = sorted(body)
    return st.sampled_from(names).flatmap(lambda n: values_not_of(json_type(body[n])).map(lambda v: (n, v)))


def missing_members(required: tuple[str, ...]) -> st.SearchStrategy[tuple[str, Any]]:
    return st.sampled_from(required).map(lambda n: (n, DROP))


def extra_members() -> st.SearchStrategy[tuple[str, Any]]:
    names = st.text(st.characters(whitelist_categories=("Ll", "Nd"), max_codepoint=127), min_size=1, max_size=10)
    return st.tuples(names.map(lambda s: EXTRA_PREFIX + s), json_values(max_leaves=4))


def odd_values(body: dict) -> st.SearchStrategy[tuple[str, Any]]:
    """(member, value): a member of `body` with an odd value of its own JSON type (valid or not)."""
    names = sorted(n for n in body if n not in ACTED_ON and json_type(body[n]) in ("string", "list"))
    return st.sampled_from(names).flatmap(lambda n: _BY_TYPE[json_type(body[n])].map(lambda v: (n, v)))


def _not_json(media_type: str | None) -> bool:
    return media_type is None or media_type.split(";", 1)[0].strip().lower() != JSON_MEDIA_TYPE


def odd_content_types() -> st.SearchStrategy[str | None]:
    """A Content-Type that is not JSON, or none (JSON variants such as +json types are not drawn:
    whether a target takes them for JSON is not a rule of the profile)."""
    named = st.sampled_from(["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                             "application/xml", "application/octet-stream", "text/html", None])
    made = _MADE_MEDIA_TYPES.filter(lambda t: "json" not in t)
    return st.one_of(named, made).filter(_not_json)


_MADE_MEDIA_TYPES = st.from_regex(r"[a-z]{1,8}/[a-z]{1,8}", fullmatch=True, alphabet=ANY_CHARS)


def build_lazy_parts() -> None:
    """Build now, on the calling thread, what Hypothesis builds on a strategy's first use. Its
    regex module is imported then, and under pytest that import compiles source (assertion
    rewriting of the hypothesis plugin's package); the fuzz run draws on a thread of its own beside
    the state machine's, and CPython 3.11's compiler is not safe to enter from two threads at once:
    a first use there once ended the fuzz run with "SystemError: AST constructor recursion depth
    mismatch". (Not at import: Hypothesis warns of work done before its plugin is loaded.)"""
    _MADE_MEDIA_TYPES.validate()


def json_content_types() -> st.SearchStrategy[str]:
    """application/json written otherwise: a target may take it (media types are case-insensitive)."""
    return st.sampled_from(["application/json; charset=utf-8", "Application/JSON", "application/json;charset=UTF-8"])


def broken_texts(body: dict) -> st.SearchStrategy[dict]:
    """BodyChange fields that break the text: cut short, empty, or not UTF-8 in a string member."""
    strings = sorted(n for n in body if json_type(body[n]) == "string")
    return st.one_of(st.sampled_from(BROKEN_TEXTS).map(lambda t: {"text": t}),
                     st.sampled_from(strings).map(lambda n: {"not_utf8": n}))


def body_changes(body: dict, required: tuple[str, ...]) -> st.SearchStrategy[BodyChange]:
    """One malformed body: at least one change that makes it malformed (wrong type, missing member,
    a Content-Type that is not JSON, a broken text), and up to two a target may take or refuse."""
    malformed_member = st.one_of(wrong_types(body), *([missing_members(required)] if required else []))
    either_member = st.one_of(extra_members(), odd_values(body))

    def build(bad_members, either_members, content_type, text) -> BodyChange:
        members, seen = [], set()
        for name, value in [*bad_members, *either_members]:
            if name not in seen and (name != text.get("not_utf8")):
                seen.add(name)
                members.append((name, value))
        return BodyChange(members=tuple(members), content_type=content_type, **text)

    return st.one_of(
        # a malformed member (the shrink target), maybe another
        st.builds(build, st.lists(malformed_member, min_size=1, max_size=2), st.lists(either_member, max_size=2),
                  st.one_of(st.just(JSON_MEDIA_TYPE), json_content_types()), st.just({})),
        # the valid members in a body that is not JSON, or not sent as JSON
        st.builds(build, st.just([]), st.lists(either_member, max_size=2), odd_content_types(), st.just({})),
        st.builds(build, st.just([]), st.lists(either_member, max_size=1), st.just(JSON_MEDIA_TYPE), broken_texts(body)),
    )


__all__ = ["body_changes", "wrong_types", "missing_members", "extra_members", "odd_values", "odd_content_types",
           "json_content_types", "broken_texts", "values_not_of", "json_type"]
