"""The JUnit file as CI shows it (issue 16, item 5): testcases named by check id with the
requirement as classname, a SHOULD warning as <skipped message="warning: ...">, the counts
kept right, the file valid against the JUnit schema (pytest_plugin/junit.py)."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from conformance.pytest_plugin.junit import check_id_of, rewrite
from support import JUNIT_XSD

xmlschema = pytest.importorskip("xmlschema")

# as pytest's junitxml (xunit2) writes it
WRITTEN = """<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="0" failures="1" skipped="1" tests="5" time="1.0" timestamp="2026-01-01T00:00:00" hostname="h"><properties><property name="arcp_target" value="http://t" /></properties>\
<testcase classname="test_binding" name="test_binding[PROOF-htm-mismatch@validate:bound:htm-wrong]" time="0.1" />\
<testcase classname="test_binding" name="test_binding[CHALLENGE-error@validate:expired:valid]" time="0.1"><system-out>out</system-out></testcase>\
<testcase classname="test_issuance" name="test_issuance[ISSUE-lifetime@temp]" time="0.1"><failure message="[MUST] ...">text</failure></testcase>\
<testcase classname="test_binding" name="test_binding[PROOF-alg@validate:bound:alg-none]" time="0.1"><skipped type="pytest.skip" message="inconclusive: x">x</skipped></testcase>\
<testcase classname="test_mine" name="test_unrelated" time="0.1" />\
</testsuite></testsuites>"""


def rec(check_id: str, verdict: str, level: str, message: str = "why") -> dict:
    return {"id": check_id, "requirement": check_id.split("@")[0], "level": level, "verdict": verdict, "message": message,
            "reproducer": {"command": "arcp-conformance reproduce r.json", "environment": []}}


RECORDS = [
    rec("PROOF-htm-mismatch@validate:bound:htm-wrong", "pass", "MUST"),
    rec("CHALLENGE-error@validate:expired:valid", "warn", "SHOULD", "challenge error ['invalid_dpop_proof']\x01; expected invalid_token"),
    rec("ISSUE-lifetime@temp", "fail", "MUST"),
    rec("PROOF-alg@validate:bound:alg-none", "inconclusive", "MUST"),
]


@pytest.fixture()
def rewritten(tmp_path):
    path = tmp_path / "conformance.junit.xml"
    path.write_text(WRITTEN, encoding="utf-8")
    assert rewrite(path, RECORDS) == 4
    return path


def cases(path):
    return {c.get("name"): c for c in ET.parse(path).iter("testcase")}


def test_testcases_read_as_check_ids_under_their_requirement(rewritten):
    found = cases(rewritten)
    assert found["PROOF-htm-mismatch@validate:bound:htm-wrong"].get("classname") == "PROOF-htm-mismatch"
    assert found["ISSUE-lifetime@temp"].get("classname") == "ISSUE-lifetime"
    assert found["test_unrelated"].get("classname") == "test_mine"  # not a check: as junitxml wrote it


def test_a_warning_is_skipped_with_a_warning_message_and_the_counts_follow(rewritten):
    case = cases(rewritten)["CHALLENGE-error@validate:expired:valid"]
    skipped = case.find("skipped")
    assert skipped.get("message").startswith("warning: [SHOULD] CHALLENGE-error@validate:expired:valid: challenge error")
    assert "#x01" in skipped.get("message") and "Reproduce: arcp-conformance reproduce r.json" in skipped.text
    assert list(case)[0] is skipped and case.find("system-out").text == "out"  # output kept, after it
    suite = ET.parse(rewritten).find("testsuite")
    assert (suite.get("skipped"), suite.get("failures"), suite.get("tests")) == ("2", "1", "5")
    # a pass stays a pass, a failure and an inconclusive check keep their own element
    found = cases(rewritten)
    assert not list(found["PROOF-htm-mismatch@validate:bound:htm-wrong"])
    assert found["ISSUE-lifetime@temp"].find("skipped") is None and found["ISSUE-lifetime@temp"].find("failure") is not None
    assert found["PROOF-alg@validate:bound:alg-none"].find("skipped").get("type") == "pytest.skip"


def test_the_rewritten_file_is_valid_junit(rewritten):
    xmlschema.XMLSchema(JUNIT_XSD).validate(str(rewritten))
    assert not list(rewritten.parent.glob("*.partial"))


def test_a_testcase_name_gives_its_check_id():
    assert check_id_of("test_binding[PROOF-htm-mismatch@validate:bound:htm-wrong]") == "PROOF-htm-mismatch@validate:bound:htm-wrong"
    assert check_id_of("test_unrelated") is None and check_id_of(None) is None
