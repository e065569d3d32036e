"""Generated blocks in the docs: a table a tool writes between two HTML comment markers, so the
page's prose stays hand-written and the figures cannot drift from what the tool computes."""
from __future__ import annotations

from pathlib import Path


def block(path: Path, begin: str, end: str) -> str:
    """The text between the markers, stripped."""
    text = path.read_text(encoding="utf-8")
    if begin not in text or end not in text.split(begin, 1)[1]:
        raise SystemExit(f"{path}: markers {begin!r} … {end!r} not found")
    return text.split(begin, 1)[1].split(end, 1)[0].strip()


def replace_block(path: Path, begin: str, end: str, markdown: str) -> bool:
    """Write `markdown` between the markers; True when the file changed."""
    block(path, begin, end)  # both markers present
    text = path.read_text(encoding="utf-8")
    head, _, rest = text.partition(begin)
    _, _, tail = rest.partition(end)
    new = head + begin + "\n" + markdown.strip() + "\n" + end + tail
    path.write_text(new, encoding="utf-8")
    return new != text
