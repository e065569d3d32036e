"""The requirements document (docs/requirements.md, generated from the catalogue by
`python -m tools.requirements_doc` in a clone; a wheel carries it as conformance/docs): where
messages and reports send a reader, and what `arcp-conformance requirements ID` prints."""
from __future__ import annotations

from pathlib import Path

from ..spec.catalogue import PACKAGE, ROOT

NAME = "docs/requirements.md"  # as messages cite it
DOC = ROOT / "docs" / "requirements.md"


def anchor(req_id: str) -> str:
    return req_id.lower()


def doc_path() -> Path:
    """A wheel carries the document inside the package; a clone has it at the top level."""
    inside = PACKAGE / "docs" / "requirements.md"
    return inside if inside.is_file() else DOC


def entry_of(text: str, req_id: str) -> str | None:
    """One requirement's entry of the document."""
    start = text.find(f'<a id="{anchor(req_id)}"></a>')
    if start < 0:
        return None
    end = text.find("\n### ", start)
    return text[text.rfind("\n", 0, start) + 1:end if end > 0 else len(text)].rstrip() + "\n"


def main(argv: list[str]) -> int:
    """`arcp-conformance requirements [ID ...]`: the document, or the entries of the ids given."""
    import sys

    text = doc_path().read_text(encoding="utf-8")
    if not argv:
        sys.stdout.write(text)
        return 0
    status = 0
    for req_id in argv:
        entry = entry_of(text, req_id.partition("@")[0])  # a check id names its requirement before the @
        if entry is None:
            print(f"arcp-conformance requirements: no requirement {req_id!r} (the ids are listed by `arcp-conformance requirements`)", file=sys.stderr)
            status = 2
        else:
            sys.stdout.write(entry)
    return status
