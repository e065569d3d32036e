"""The JUnit file (pytest's junitxml writes it) as CI systems should show a conformance run:
each testcase named by its check id with its requirement as classname, and a SHOULD warning (or
an unmet MAY) as `<skipped message="warning: ...">`.

Why skipped: GitLab's test report and Jenkins' JUnit plugin know passed, failed, errored and
skipped testcases and nothing else. A passing testcase with a property or system-out is shown as
a plain pass in both (the warning is invisible, and the JUnit schema has no per-testcase
properties); a failure would turn the pipeline red for what does not fail the run. Skipped is
counted and listed with its message by both, and does not fail a job.

junitxml offers no public way to change a testcase's name, classname or outcome after the fact
(record_xml_attribute is experimental and warns under xunit2), so the file is rewritten once
junitxml has written it: at session finish, after its own hook (trylast), with xml.etree, and
replaced atomically."""
from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ..report.reproduce import env_prefix
from ..report.summary import shorten
from ..spec.vocabulary import INFO, WARN
from .state import state

# verdict -> the word a CI UI shows first in the skipped message
SHOWN_AS_SKIPPED = {WARN: "warning", INFO: "information"}
MESSAGE_CHARS = 500  # of the skipped message (an attribute, one line); the element's text has it whole
# characters XML 1.0 cannot carry, even escaped (a target's text may hold them)
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_PARAMETRIZED = re.compile(r"^[^\[]*\[(?P<id>.+)\]$")  # test_binding[CHECK-ID] -> CHECK-ID


def xml_text(text: str) -> str:
    """`text` with the characters XML cannot carry made visible, as junitxml does (#x01)."""
    return _NOT_XML.sub(lambda m: f"#x{ord(m.group()):02X}", text)


def check_id_of(name: str | None) -> str | None:
    match = _PARAMETRIZED.match(name or "")
    return match.group("id") if match else None


def rewrite(path: Path, records: list[dict]) -> int:
    """Rename the testcases of `records`' checks and mark their warnings skipped; returns how many
    testcases were renamed. A testcase that names no known check is left as junitxml wrote it."""
    by_id = {r["id"]: r for r in records}
    tree = ET.parse(path)
    renamed = 0
    for suite in tree.iter("testsuite"):
        added = 0
        for case in suite.findall("testcase"):
            record = by_id.get(check_id_of(case.get("name")))
            if record is None:
                continue
            case.set("classname", record["requirement"])
            case.set("name", record["id"])
            renamed += 1
            word = SHOWN_AS_SKIPPED.get(record["verdict"])
            if word and not any(child.tag in ("failure", "error", "skipped") for child in case):
                case.insert(0, _skipped(word, record))
                added += 1
        if added:
            suite.set("skipped", str(int(suite.get("skipped") or 0) + added))
    partial = path.with_name(path.name + ".partial")
    tree.write(partial, encoding="utf-8", xml_declaration=True)
    os.replace(partial, path)
    return renamed


def _skipped(word: str, record: dict) -> ET.Element:
    message = f"{word}: [{record['level']}] {record['id']}: {shorten(record['message'], MESSAGE_CHARS)}"
    element = ET.Element("skipped", {"type": f"arcp.{record['verdict']}", "message": xml_text(message)})
    text = record["message"]
    rep = record.get("reproducer") or {}
    if rep.get("command"):
        text += f"\nReproduce: {env_prefix(rep)}{rep['command']}"
    element.text = xml_text(text)
    return element


class JunitRewrite:
    """Registered on the process that writes the JUnit file (not on an xdist worker)."""

    @pytest.hookimpl(trylast=True)  # after junitxml's own pytest_sessionfinish wrote the file
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        config = session.config
        records = state(config).records
        path = junit_path(config)
        if records and path is not None and path.is_file():
            rewrite(path, records)


def junit_path(config: pytest.Config) -> Path | None:
    """The file junitxml writes in this run (its absolute path, fixed at configure), or None."""
    try:
        from _pytest.junitxml import xml_key
    except ImportError:
        return None
    xml = config.stash.get(xml_key, None)
    return Path(xml.logfile) if xml is not None else None
