"""The data the checks stand on (vectors/*.json) agrees with the code that generates the checks."""
import json
import re
from collections import Counter

import pytest

from conformance.dpop.proofs import CONTROLS, DEFECTS
from conformance.judging.judge_check import known_checks as all_checks
from conformance.spec.cases import CONTROL_REQUIREMENTS, DEFECT_REQUIREMENTS, defect_requirements
from conformance.spec.catalogue import LEVELS, VECTORS, problem_by_uri, problem_types, problem_uri, requirements, slug_of
from conformance.spec.vocabulary import MODES

RAW_REQUIREMENTS = json.loads((VECTORS / "requirements.json").read_text(encoding="utf-8"))["requirements"]
RAW_PROBLEMS = json.loads((VECTORS / "problem-types.json").read_text(encoding="utf-8"))
RENAMES = json.loads((VECTORS / "requirement-renames.json").read_text(encoding="utf-8"))["renamed"]


@pytest.mark.parametrize("mode", MODES)
def test_every_check_names_a_catalogue_requirement(mode):
    unknown = sorted({c.requirement_id for c in all_checks(mode)} - set(requirements()))
    assert not unknown, f"checks name requirements missing from vectors/requirements.json: {unknown}"


def test_every_requirement_is_checked_in_some_mode():
    used = {c.requirement_id for mode in MODES for c in all_checks(mode)}
    unused = sorted(set(requirements()) - used)
    assert not unused, f"catalogue requirements no check judges: {unused}"


@pytest.mark.parametrize("mode", MODES)
def test_check_ids_are_unique_per_mode(mode):
    counts = Counter(c.id for c in all_checks(mode))
    assert not [i for i, n in counts.items() if n > 1]


def test_requirement_ids_are_unique_in_the_file():
    counts = Counter(r["id"] for r in RAW_REQUIREMENTS)
    assert not [i for i, n in counts.items() if n > 1]
    assert len(requirements()) == len(RAW_REQUIREMENTS)


def test_levels_are_must_should_may_only():
    assert LEVELS == ("MUST", "SHOULD", "MAY")
    assert {r["level"] for r in RAW_REQUIREMENTS} <= set(LEVELS)


@pytest.mark.parametrize("req", RAW_REQUIREMENTS, ids=lambda r: r["id"])
def test_requirement_entries_are_complete(req):
    assert set(req) == {"id", "level", "profile", "source", "statement"}
    assert all(isinstance(v, str) and v.strip() for v in req.values())
    assert re.fullmatch(r"§\d+(, §\d+)*", req["profile"]), req["profile"]


def test_requirement_ids_are_one_system_and_none_is_a_prefix_of_another():
    # TOPIC-what: the topic says what is judged (the profile section is a field, not part of the id),
    # and `grep ID` finds only that requirement, never a longer one
    ids = set(requirements())
    assert all(re.fullmatch(r"(ISSUE|PROOF|BIND|TOKEN|PROBLEM|CHALLENGE)-[a-z0-9]+(-[a-z0-9]+)*", i) for i in ids), ids
    assert not [(a, b) for a in ids for b in ids if a != b and b.startswith(a)]


def test_the_renamed_ids_map_every_old_id_to_a_catalogue_id_once():
    # requirements added after the renaming have no former id
    assert set(RENAMES.values()) <= set(requirements())
    assert len(set(RENAMES.values())) == len(RENAMES)
    assert not set(RENAMES) & set(requirements())


def test_every_defect_and_control_maps_to_a_requirement_of_the_catalogue():
    assert set(DEFECT_REQUIREMENTS) == set(DEFECTS)
    assert set(CONTROL_REQUIREMENTS) == set(CONTROLS)
    assert set(defect_requirements().values()) <= set(requirements())


def test_controls_map_to_acceptance_requirements():
    # a control is a valid proof: it must map to a requirement that the proof is accepted
    for name in CONTROLS:
        assert "accepted" in requirements()[defect_requirements()[name]].statement


# --- the ARCP problem catalogue (profile §7)

def test_problem_catalogue_has_the_37_rows_with_unique_slugs():
    slugs = [t["slug"] for t in RAW_PROBLEMS["types"]]
    assert len(slugs) == 37
    assert len(set(slugs)) == 37
    assert len(problem_types()) == 37


def test_problem_catalogue_rows_are_well_formed():
    assert RAW_PROBLEMS["base_uri"] == "https://arcp.0x001.tech/docs/problems/"
    for row in RAW_PROBLEMS["types"]:
        assert set(row) == {"slug", "title", "status"}
        assert isinstance(row["status"], int) and 400 <= row["status"] <= 599, row
        assert row["title"].strip() == row["title"] != ""
    assert len({t["title"] for t in RAW_PROBLEMS["types"]}) == 37


@pytest.mark.parametrize("slug, title, status", [
    ("dpop-required", "DPoP Proof Required", 401),
    ("dpop-invalid", "Invalid DPoP Proof", 401),
    ("dpop-binding-mismatch", "DPoP Key Mismatch", 401),
    ("token-not-dpop-bound", "Token Not DPoP Bound", 401),
    ("token-invalid", "Invalid or Expired Token", 401),
    ("authentication-failed", "Authentication Failed", 401),
    ("rate-limit-exceeded", "Rate Limit Exceeded", 429),
    ("tpr-disabled", "TPR Disabled", 503),
])
def test_problem_rows_the_suite_relies_on(slug, title, status):
    ptype = problem_types()[slug]
    assert (ptype.title, ptype.status) == (title, status)


def test_problem_uri_round_trip():
    for slug in problem_types():
        uri = problem_uri(slug)
        assert uri == RAW_PROBLEMS["base_uri"] + slug
        assert problem_by_uri(uri).slug == slug
        assert slug_of(uri) == slug
    assert slug_of("https://example.test/problems/dpop-invalid") is None
    assert slug_of(None) is None
    assert slug_of(42) is None


@pytest.mark.parametrize("mode", MODES)
def test_expected_problem_types_are_catalogue_types(mode):
    from conformance.spec.cases import cases_for, expect

    for case in cases_for(mode):
        for slug in expect(case, mode).types:
            assert slug in problem_types(), f"{case.id}: {slug}"


# --- source links: every RFC and ARCP doc a requirement names can be opened from the report

@pytest.mark.parametrize("req", RAW_REQUIREMENTS, ids=lambda r: r["id"])
def test_every_rfc_and_arcp_doc_mentioned_in_a_source_is_linked(req):
    import re

    from conformance.spec.catalogue import source_links

    linked = " ".join(req["source"][a:b] for a, b, _ in source_links(req["source"]))
    for rfc in re.findall(r"RFC \d{4}", req["source"]):
        assert rfc in linked
    for doc in re.findall(r"docs/[a-z]+/[a-z0-9-]+", req["source"]):
        assert doc in linked
    for _start, _end, url in source_links(req["source"]):
        assert url.startswith("https://")


def test_source_links_follow_the_rfc_named_last():
    from conformance.spec.catalogue import source_links

    urls = [u for _, _, u in source_links("RFC 9449 §5 with RFC 6749 §5.2; profile (§7)")]
    assert urls == [
        "https://www.rfc-editor.org/rfc/rfc9449",
        "https://www.rfc-editor.org/rfc/rfc9449#section-5",
        "https://www.rfc-editor.org/rfc/rfc6749",
        "https://www.rfc-editor.org/rfc/rfc6749#section-5.2",
    ]


def test_the_results_schema_names_every_endpoint_a_case_can_have():
    import json

    from conformance.spec.catalogue import SCHEMAS
    from conformance.spec.cases import ENDPOINTS

    schema = json.loads((SCHEMAS / "results.schema.json").read_text(encoding="utf-8"))
    text = json.dumps(schema)
    listed = json.loads(text.split('"endpoint": {"enum": ', 1)[1].split("]", 1)[0] + "]")
    assert listed == list(ENDPOINTS)
