"""The data the checks stand on: the requirement catalogue and the ARCP problem catalogue.

Both live as JSON in `vectors/`; this module only loads them, once.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .vocabulary import LEVELS

PACKAGE = Path(__file__).resolve().parents[1]  # conformance/
ROOT = PACKAGE.parent  # the repository, when running from a clone or an editable install


def _data_dir(name: str) -> Path:
    """A wheel carries the data inside the package; a clone has it at the top level."""
    inside = PACKAGE / name
    return inside if inside.is_dir() else ROOT / name


VECTORS = _data_dir("vectors")
SCHEMAS = _data_dir("schemas")



@dataclass(frozen=True)
class Requirement:
    id: str
    level: str
    profile: str  # the section of the ARCP DPoP conformance profile it comes from ("§5")
    source: str  # the clause of the ARCP docs or RFCs it rests on
    statement: str


@dataclass(frozen=True)
class ProblemType:
    slug: str
    title: str
    status: int
    uri: str


def _load(name: str) -> dict:
    path = VECTORS / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RuntimeError(f"arcp-conformance data file missing: {path} (install from a clone: pip install -e .)")


@lru_cache(maxsize=None)
def requirements() -> dict[str, Requirement]:
    out: dict[str, Requirement] = {}
    for raw in _load("requirements.json")["requirements"]:
        req = Requirement(**raw)
        if req.level not in LEVELS:
            raise ValueError(f"requirement {req.id}: unknown level {req.level!r}")
        if req.id in out:
            raise ValueError(f"requirement {req.id} is defined twice")
        out[req.id] = req
    return out


def requirement(req_id: str) -> Requirement:
    try:
        return requirements()[req_id]
    except KeyError:
        raise KeyError(f"unknown requirement id {req_id!r}: add it to vectors/requirements.json") from None


@lru_cache(maxsize=None)
def renamed_requirements() -> dict[str, str]:
    """Old requirement id -> its id now (the ids were renamed once, in issue 13)."""
    return dict(_load("requirement-renames.json")["renamed"])


def current_check_id(check_id: str) -> str:
    """A check id written under an old requirement id, as it is called now (others unchanged)."""
    req, at, subject = check_id.partition("@")
    return renamed_requirements().get(req, req) + at + subject


@lru_cache(maxsize=None)
def problem_types() -> dict[str, ProblemType]:
    data = _load("problem-types.json")
    base = data["base_uri"]
    return {t["slug"]: ProblemType(t["slug"], t["title"], t["status"], base + t["slug"]) for t in data["types"]}


def problem_uri(slug: str) -> str:
    return problem_types()[slug].uri


def problem_by_uri(uri: str) -> ProblemType | None:
    for ptype in problem_types().values():
        if ptype.uri == uri:
            return ptype
    return None


@lru_cache(maxsize=None)
def _link_templates() -> dict[str, str]:
    return _load("sources.json")


_MENTION = re.compile(
    r"RFC (?P<rfc>\d{4})"
    r"|§(?P<section>\d+(?:\.\d+)*)"
    r"|docs/(?P<doc>(?:problems|security)/[a-z0-9-]+)(?:\.md)?"
    r"|(?<![\w/-])(?P<page>three-phase-registration|dpop)\.md"  # security pages named without their folder
    r"|(?P<profile>profile)"  # the profile's own sections follow: not an RFC's
)


def source_links(source: str) -> list[tuple[int, int, str]]:
    """(start, end, url) for each document a source line mentions, in order.

    A '§N' links into the RFC named last before it; one with no RFC before it (a profile
    section) gets no link.
    """
    urls = _link_templates()
    links: list[tuple[int, int, str]] = []
    rfc = None
    for m in _MENTION.finditer(source):
        if m["rfc"]:
            rfc = m["rfc"]
            links.append((m.start(), m.end(), urls["rfc"].format(number=rfc)))
        elif m["profile"]:
            rfc = None
        elif m["section"]:
            if rfc:
                links.append((m.start(), m.end(), urls["rfc_section"].format(number=rfc, section=m["section"])))
        else:
            rfc = None
            doc = m["doc"] or "security/" + m["page"]
            links.append((m.start(), m.end(), urls["arcp_doc"].format(path=doc)))
    return links


def slug_of(uri: str | None) -> str | None:
    """The catalogue slug of a type URI, or None when the URI is not in the catalogue."""
    found = problem_by_uri(uri) if isinstance(uri, str) else None
    return found.slug if found else None
