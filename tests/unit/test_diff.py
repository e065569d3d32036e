"""The diff command: two results files in, new failures, fixed checks and changed problem types out."""
from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.report import diff
from conformance.spec.catalogue import ROOT
from conformance.report.diff import FORMAT_V0, FORMAT_V1, FORMAT_V2, SECTIONS, DiffError, clean, compare, load, main, parse, render_json, render_text, slug

PROBLEMS = "https://arcp.0x001.tech/docs/problems/"
MISMATCH = "BIND-mismatch@validate:mismatched:valid"
REPLAY = "PROOF-replay@validate:bound:replay"
SECRET = "Bearer eyJhbGciOiJIUzI1NiJ9.SECRET-SENTINEL.sig"


def exchange(status=401, slug_="dpop-binding-mismatch", *, detail="proof key does not match the token", instance="/i/1",
             timestamp="2026-11-25T15:00:00Z", request_id="req-1", port=8001, error=None, **members):
    """One recorded request and response; slug_=None: no problem body."""
    problem = None
    if slug_ is not None:
        problem = {"type": PROBLEMS + slug_, "title": slug_.replace("-", " "), "status": status, "detail": detail,
                   "instance": instance, "timestamp": timestamp, "request_id": request_id, **members}
    return {
        "method": "POST", "url": f"http://127.0.0.1:{port}/auth/agent/validate_compliance",
        "request_headers": [["Authorization", SECRET], ["DPoP", "eyJ0eXAiOiJkcG9wK2p3dCJ9.proof.sig"]],
        "request_body": {"agent_id": "a1", "agent_key": "<redacted>"},
        "status": status,
        "response_headers": [["content-type", "application/problem+json" if problem else "application/json"]],
        "body": json.dumps(problem) if problem else "{}", "body_truncated": False,
        "problem": problem, "problem_type": PROBLEMS + slug_ if slug_ else None,
        "error": error, "attempts": 1,
    }


def check(cid=MISMATCH, verdict="pass", message="", exchanges=None):
    """One check record of a results-v2 document."""
    requirement, _, subject = cid.partition("@")
    endpoint, token, proof = (subject.split(":") + ["", "", ""])[:3]
    return {
        "id": cid, "requirement": requirement, "level": "MUST", "subject": subject,
        "case": {"endpoint": endpoint, "token": token, "proof": proof},
        "verdict": verdict, "message": message,
        "exchanges": [exchange()] if exchanges is None else exchanges,
        "reproducer": {"command": f"pytest --target-url http://127.0.0.1:8001 --check '{cid}'", "environment": [], "python_file": None,
                       "plan_file": None, "suite_command": f"pytest --target-url http://127.0.0.1:8001 --check '{cid}'"},
    }


def results(*checks, mode="required", url="http://127.0.0.1:8001", version="2.1.2", started="2026-11-25T15:00:00Z"):
    """A results-v2 document."""
    counts = {v: sum(c["verdict"] == v for c in checks) for v in ("pass", "fail", "warn", "info", "inconclusive", "not-applicable", "baselined", "stale")}
    return {
        "format": FORMAT_V2,
        "tool": {"name": "arcp-conformance", "version": "0.1.0"},
        "started_at": started, "finished_at": started,
        "target": {"url": url, "server_version": version, "dpop_mode": mode, "dpop_mode_source": "given", "forged_tokens": True},
        "options": {"strict": False, "baseline": None, "checks": None},
        "exit_status": 1 if counts["fail"] else 0,
        "counts": counts,
        "requirements": [{"id": c["requirement"], "level": "MUST", "section": "6", "statement": "...", "source": "RFC 9449 §7.1",
                          "links": [{"text": "RFC 9449 §7.1", "url": "https://www.rfc-editor.org/rfc/rfc9449#section-7.1"}],
                          "verdict": c["verdict"], "counts": counts} for c in checks],
        "checks": list(checks),
    }


def results_v0(*checks, mode="required"):
    """An older results-v0 document: checks have no exchanges, the target is a string."""
    return {
        "format": FORMAT_V0, "target": "http://127.0.0.1:8001", "server_version": "2.1.2",
        "dpop_mode": mode, "dpop_mode_source": "given", "forged_tokens": True, "counts": {},
        "checks": [{k: c[k] for k in ("id", "requirement", "level", "verdict", "message")} for c in checks],
    }


def run(old, new):
    return compare(parse(old, "old.json"), parse(new, "new.json"))


def ids(d, section):
    return [e.id for e in d.sections[section]]


def changed(d):
    return {key: ids(d, key) for key, entries in d.sections.items() if entries}


def write(tmp_path, name, doc):
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return str(path)


SCHEMA = ROOT / "schemas" / "results.schema.json"


@pytest.mark.skipif(not SCHEMA.exists(), reason="no results schema")
def test_the_documents_of_these_tests_are_valid_results_v2():
    """The helpers build what the suite writes: a change to the results format shows up here."""
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    doc = results(check(), check(REPLAY, "fail", "replayed", [exchange(202, None), exchange(401, "dpop-replay")]),
                  check("PROBLEM-no-5xx@validate:bound:none", "inconclusive", "no response",
                        [exchange(None, None, error="ConnectError: refused")]))
    jsonschema.validate(doc, schema)


# --- sections

def test_identical_results_have_no_changes():
    doc = results(check(), check(REPLAY, "fail", "replayed proof accepted"))
    d = run(doc, copy.deepcopy(doc))
    assert changed(d) == {}
    text = render_text(d)
    assert "no changes" in text
    assert not d.fails("any")


def test_volatile_members_never_make_a_difference():
    old = results(check(exchanges=[exchange(nested={"instance": "/a", "request_id": "x", "keep": 1})]),
                  started="2026-11-25T15:00:00Z")
    new = results(check(exchanges=[exchange(instance="/i/2", timestamp="2026-11-26T09:30:00Z", request_id="req-99", port=9002,
                                            nested={"instance": "/b", "request_id": "y", "keep": 1})]),
                  started="2026-11-26T09:30:00Z", url="http://127.0.0.1:9002")
    new["finished_at"] = "2026-11-26T09:31:00Z"
    new["checks"][0]["exchanges"][0]["attempts"] = 3
    d = run(old, new)
    assert changed(d) == {}
    assert d.fails("any") is False


def test_success_bodies_are_not_compared():
    def ok(token, expires):
        ex = exchange(200, None)
        ex["problem"] = {"access_token": f"<jwt sha256:{token}>", "expires_at": expires, "agent_id": token}
        return ex
    d = run(results(check(exchanges=[ok("aaaa", 1)])), results(check(exchanges=[ok("bbbb", 2)])))
    assert changed(d) == {}


def test_the_runs_own_port_and_clock_jitter_are_not_changes():
    """Each run's target listens on its own port, and the second may tick between proof and check."""
    def ex(port, seconds):
        return [exchange(detail=f"htu 'http://127.0.0.1:{port}/agents/register' is not this endpoint"),
                exchange(detail=f"htu 'http://elsewhere.invalid:{port + 1}/agents/register' is not this endpoint"),
                exchange(detail=f"the proof is {seconds} s old (at most 120)")]
    old = results(check(exchanges=ex(46585, 600)), url="http://127.0.0.1:46585")
    new = results(check(exchanges=ex(37933, 601)), url="http://127.0.0.1:37933")
    assert changed(run(old, new)) == {}


def test_the_agent_ids_a_run_made_up_are_not_changes_but_other_ids_are():
    """Each run registers agents of its own (wire.flows.Identity): a server that echoes the id
    answers differently every run, and that says nothing about it."""
    from conformance.wire.agent_endpoint import AgentEndpoint
    from conformance.wire.flows import Identity

    endpoint = AgentEndpoint()
    try:
        first, second = (Identity.create("testing", endpoint, "a").agent_id for _ in range(2))
    finally:
        endpoint.close()
    old = results(check(exchanges=[exchange(500, "internal-error", agent_id=first)]))
    new = results(check(exchanges=[exchange(500, "internal-error", agent_id=second)]))
    assert changed(run(old, new)) == {}
    other = results(check(exchanges=[exchange(500, "internal-error", agent_id="someone-else-0123456789")]))
    assert changed(run(old, other)) == {"changed_responses": [MISMATCH]}


def test_results_written_under_the_old_requirement_ids_compare_with_the_new():
    from conformance.spec.catalogue import renamed_requirements

    old_id = next(old for old, new in renamed_requirements().items() if new == MISMATCH.partition("@")[0])
    old = results(check(cid=old_id + "@validate:mismatched:valid", verdict="fail"))
    d = run(old, results(check(verdict="fail")))
    assert changed(d) == {}  # the same check on both sides: not "only in old" and "only in new"


def test_two_servers_on_different_hosts_naming_themselves():
    old = results(check(exchanges=[exchange(detail="htu must be https://10.0.0.1:8443/agents/register")]), url="https://10.0.0.1:8443")
    new = results(check(exchanges=[exchange(detail="htu must be https://10.0.0.2:9443/agents/register")]), url="https://10.0.0.2:9443")
    assert changed(run(old, new)) == {}


@pytest.mark.parametrize(("before", "after"), [("the proof is 600 s old (at most 120)", "the proof is 600 s old (at most 60)"),
                                                ("the proof is 600 s old", "the proof is 602 s old"),
                                                ("htu 'http://127.0.0.1:8001/a' is wrong", "htu 'http://127.0.0.1:8001/b' is wrong"),
                                                ("proof key mismatch", "proof key mismatch (jkt)")])
def test_detail_is_still_compared(before, after):
    d = run(results(check(exchanges=[exchange(detail=before)])), results(check(exchanges=[exchange(detail=after)])))
    assert changed(d) == {"changed_responses": [MISMATCH]}


def test_same():
    assert diff.same({"a": ["599 s"]}, {"a": ["600 s"]})
    assert not diff.same({"a": "599 s"}, {"a": "601 s"})
    assert not diff.same({"a": 1}, {"a": True})
    assert not diff.same({"a": 1}, {"a": 1, "b": 2})
    assert not diff.same("9" * 5000, "9" * 4999 + "8")  # no int() of a hostile number


def test_volatile_members_are_dropped_at_any_depth():
    value = {"instance": 1, "a": [{"timestamp": 2, "b": {"request_id": 3, "c": 4}}], "detail": "kept"}
    assert diff.strip_volatile(value) == {"a": [{"b": {"c": 4}}], "detail": "kept"}


@pytest.mark.parametrize(("before", "after"), [("pass", "fail"), ("warn", "fail"), ("baselined", "fail"), ("pass", "stale"),
                                                 ("baselined", "stale"), ("inconclusive", "fail"), ("not-applicable", "fail")])
def test_new_failures(before, after):
    d = run(results(check(verdict=before)), results(check(verdict=after, message="401 without a WWW-Authenticate challenge")))
    assert changed(d) == {"new_failures": [MISMATCH]}
    entry = d.sections["new_failures"][0]
    assert (entry.old, entry.new) == (before, after)
    assert f"  {MISMATCH}  {before} -> {after}  401 without a WWW-Authenticate challenge" in render_text(d)


def test_a_failure_that_stays_a_failure_is_not_new():
    d = run(results(check(verdict="fail", message="a")), results(check(verdict="fail", message="b")))
    assert changed(d) == {}


@pytest.mark.parametrize("before", ["pass", "fail", "info", "not-applicable"])
def test_new_warnings(before):
    d = run(results(check(verdict=before)), results(check(verdict="warn")))
    assert changed(d) == {"new_warnings": [MISMATCH]}
    assert d.fails("new-failures") is False  # warnings are their own section
    assert d.fails("any") is True


@pytest.mark.parametrize("before", ["fail", "warn", "baselined", "stale"])
def test_fixed(before):
    d = run(results(check(verdict=before, message="replayed proof accepted")), results(check(verdict="pass")))
    assert changed(d) == {"fixed": [MISMATCH]}
    assert f"{before} -> pass  was: replayed proof accepted" in render_text(d)


@pytest.mark.parametrize(("before", "after"), [("pass", "inconclusive"), ("fail", "inconclusive"), ("inconclusive", "pass")])
def test_inconclusive_is_another_verdict_change_that_says_nothing_about_the_server(before, after):
    d = run(results(check(verdict=before)), results(check(verdict=after, message="target unreachable")))
    assert changed(d) == {"other_verdict_changes": [MISMATCH]}
    assert "inconclusive says nothing about the server" in d.sections["other_verdict_changes"][0].reason


@pytest.mark.parametrize(("before", "after", "hint"), [("pass", "not-applicable", "not applicable"), ("fail", "baselined", "baseline"),
                                                         ("not-applicable", "pass", ""), ("pass", "info", "")])
def test_other_verdict_changes(before, after, hint):
    d = run(results(check(verdict=before)), results(check(verdict=after)))
    assert changed(d) == {"other_verdict_changes": [MISMATCH]}
    assert hint in d.sections["other_verdict_changes"][0].reason


def test_changed_problem_type_and_status():
    old = results(check(verdict="pass", exchanges=[exchange(401, "dpop-binding-mismatch")]))
    new = results(check(verdict="fail", message="wrong problem type", exchanges=[exchange(400, "invalid-dpop-proof")]))
    d = run(old, new)
    # a check can be in this section and in another one
    assert changed(d) == {"new_failures": [MISMATCH], "changed_problem_types": [MISMATCH]}
    text = render_text(d)
    assert f"  {MISMATCH}  pass -> fail  401 dpop-binding-mismatch -> 400 invalid-dpop-proof" in text
    entry = d.sections["changed_problem_types"][0]
    assert entry.extra["new_exchanges"] == [{"status": 400, "problem_type": PROBLEMS + "invalid-dpop-proof"}]


def test_changed_problem_types_compares_the_whole_sequence():
    two = [exchange(202, None), exchange(401, "dpop-replay")]
    d = run(results(check(REPLAY, exchanges=two)), results(check(REPLAY, exchanges=[exchange(202, None), exchange(202, None)])))
    assert changed(d) == {"changed_problem_types": [REPLAY]}
    assert "202 no problem type, 401 dpop-replay -> 202 no problem type, 202 no problem type" in render_text(d)
    d = run(results(check(REPLAY, exchanges=two)), results(check(REPLAY, exchanges=two[:1])))
    assert changed(d) == {"changed_problem_types": [REPLAY]}


def test_a_status_change_alone_is_a_changed_problem_type():
    d = run(results(check(exchanges=[exchange(401)])), results(check(exchanges=[exchange(403)])))
    assert changed(d) == {"changed_problem_types": [MISMATCH]}


def test_no_response_is_shown_with_the_error_class_only():
    new = results(check(verdict="inconclusive", exchanges=[exchange(None, None, error="ConnectError: [Errno 111] refused")]))
    new["checks"][0]["exchanges"][0]["status"] = None
    d = run(results(check()), new)
    assert changed(d) == {"other_verdict_changes": [MISMATCH], "changed_problem_types": [MISMATCH]}
    assert "401 dpop-binding-mismatch -> no response (ConnectError)" in render_text(d)


def test_changed_responses_keep_detail():
    old = results(check(exchanges=[exchange(detail="proof key does not match the token")]))
    new = results(check(exchanges=[exchange(detail="jkt mismatch", instance="/other", hint="rotate keys")]))
    d = run(old, new)
    assert changed(d) == {"changed_responses": [MISMATCH]}
    entry = d.sections["changed_responses"][0]
    assert entry.extra["changes"] == [{"exchange": 1, "members": ["detail", "hint"]}]
    assert 'detail: "proof key does not match the token" -> "jkt mismatch"' in entry.reason
    assert "hint added" in entry.reason
    assert "instance" not in entry.reason


def test_changed_responses_problem_body_appears():
    old = results(check(exchanges=[exchange(401, None)]))
    new = results(check(exchanges=[exchange(401, None)]))
    new["checks"][0]["exchanges"][0]["problem"] = {"title": "Unauthorized", "status": 401}
    d = run(old, new)
    assert changed(d) == {"changed_responses": [MISMATCH]}
    assert "problem body absent -> present" in d.sections["changed_responses"][0].reason


def test_only_in_old_and_only_in_new():
    old = results(check(), check("PROOF-alg@register:bound:alg-none", "fail", "accepted alg none"))
    new = results(check(), check(REPLAY, "pass"))
    d = run(old, new)
    assert changed(d) == {"only_in_old": ["PROOF-alg@register:bound:alg-none"], "only_in_new": [REPLAY]}
    text = render_text(d)
    assert "Only in old (1):\n  PROOF-alg@register:bound:alg-none  fail  accepted alg none" in text
    assert f"Only in new (1):\n  {REPLAY}  pass" in text
    assert d.fails("new-failures") is False
    assert d.fails("any") is True


def test_sections_headings_order_and_summary():
    old = results(check("A@1", "pass"), check("B@1", "pass"), check("C@1", "fail"), check("D@1", "pass"),
                  check("E@1", "pass"), check("F@1", "pass"), check("G@1", "pass"))
    new = results(check("A@1", "fail"), check("B@1", "warn"), check("C@1", "pass"), check("D@1", "pass", exchanges=[exchange(400)]),
                  check("E@1", "pass", exchanges=[exchange(detail="other")]), check("F@1", "inconclusive"), check("H@1", "pass"))
    d = run(old, new)
    assert {key: len(v) for key, v in d.sections.items()} == dict.fromkeys(SECTIONS, 1)
    text = render_text(d)
    positions = [text.index(f"\n{heading} (1):\n") for heading in SECTIONS.values()]
    assert positions == sorted(positions)
    assert text.rstrip("\n").splitlines()[-1] == (
        "summary: new failures 1, new warnings 1, fixed 1, changed problem types 1, changed responses 1,"
        " other verdict changes 1, only in old 1, only in new 1")


# --- header

def test_header_names_both_targets_versions_and_modes():
    d = run(results(check(), version="2.1.2"), results(check(), url="http://10.0.0.2:8001", version="2.2.0"))
    first = render_text(d).splitlines()[0]
    assert "old http://127.0.0.1:8001 (server 2.1.2, DPoP required, mode given)" in first
    assert "new http://10.0.0.2:8001 (server 2.2.0, DPoP required, mode given)" in first
    assert "warning:" not in render_text(d)


def test_different_dpop_modes_are_warned_about():
    d = run(results(check(), mode="required"), results(check(), mode="optional"))
    text = render_text(d)
    assert "warning: DPoP modes differ (required -> optional)" in text
    assert json.loads(render_json(d))["warnings"][0].startswith("DPoP modes differ")


def test_unknown_server_version():
    d = run(results(check(), version=None), results(check()))
    assert "(server unknown version, DPoP required" in render_text(d)


# --- results-v0

def test_results_v0_is_accepted_without_problem_type_comparison():
    old = results_v0(check(verdict="pass"), check(REPLAY, "fail"))
    new = results(check(verdict="fail", exchanges=[exchange(400, "invalid-dpop-proof")]), check(REPLAY, "pass"))
    d = run(old, new)
    assert changed(d) == {"new_failures": [MISMATCH], "fixed": [REPLAY]}
    text = render_text(d)
    assert text.count("results-v0") == 1
    assert "note: the old file is arcp-conformance/results-v0 (no exchanges recorded): problem types and responses are not compared" in text
    assert "old http://127.0.0.1:8001 (server 2.1.2, DPoP required, mode given)" in text


def test_two_results_v0_files():
    d = run(results_v0(check(verdict="pass")), results_v0(check(verdict="warn")))
    assert changed(d) == {"new_warnings": [MISMATCH]}
    assert "note: both files are arcp-conformance/results-v0" in render_text(d)


def test_v1_checks_without_exchanges_are_not_compared_for_problem_types():
    new = results(check())
    del new["checks"][0]["exchanges"]
    assert changed(run(results(check(exchanges=[exchange(500, "internal-error")])), new)) == {}


# --- inert, bounded output; no secrets

HOSTILE = "\x1b[31mred\x1b[0m \x1b]0;pwned\x07title \x1b]8;;http://evil\x1b\\link\r\nline\x00\x07\x9b2J \u202eevil\u202c \ud800end"


def test_clean_strips_escapes_and_controls():
    assert clean(HOSTILE) == "red title link  line evil end"
    assert clean(None) == ""
    assert clean(404) == "404"
    cut = clean("x" * 5000)
    assert len(cut) == diff.LIMIT and cut.endswith("...")


def test_slug():
    assert slug(PROBLEMS + "dpop-binding-mismatch") == "dpop-binding-mismatch"
    assert slug(PROBLEMS + "dpop-replay/") == "dpop-replay"
    assert slug("about:blank") == "about:blank"
    assert slug(None) == "no problem type"


def _inert(text: str) -> None:
    assert "\x1b" not in text and "\x9b" not in text and "\u202e" not in text
    assert all(ch == "\n" or ord(ch) >= 0x20 for ch in text), [ch for ch in text if ch != "\n" and ord(ch) < 0x20]
    assert "SECRET-SENTINEL" not in text and "Authorization" not in text and "eyJ" not in text


def test_strings_from_the_files_are_made_inert_and_cut():
    cid = "BIND-mismatch@\x1b[2Jvalidate"
    old = results(check(cid, "pass"), version="2.1\x1b[5m.2", url="http://127.0.0.1:8001/\x1b]0;x\x07")
    new = results(check(cid, "fail", HOSTILE + "y" * 5000, exchanges=[exchange(400, "evil\x1b[31m-type", detail=HOSTILE)]),
                  check("Z@\x07" + "z" * 500, "pass", HOSTILE), mode="optional\x1b[1m")
    d = run(old, new)
    text = render_text(d)
    _inert(text)
    assert "red title link" in text
    assert max(len(line) for line in text.splitlines()[1:]) < 3 * diff.LIMIT
    out = render_json(d)
    assert out.isascii()
    _inert(json.dumps(json.loads(out), ensure_ascii=False))


def test_request_headers_are_never_printed():
    old = results(check(verdict="pass", exchanges=[exchange(401)]))
    new = results(check(verdict="fail", message="x", exchanges=[exchange(400, "invalid-dpop-proof", detail="other")]))
    d = run(old, new)
    for text in (render_text(d), render_json(d)):
        assert "SECRET-SENTINEL" not in text and "request_headers" not in text and "Authorization" not in text


# --- json output

def test_json_output():
    old = results(check(verdict="pass"), check(REPLAY, "fail"))
    new = results(check(verdict="fail", message="wrong", exchanges=[exchange(400, "invalid-dpop-proof")]), mode="optional")
    out = json.loads(render_json(run(old, new), "any"))
    assert out["format"] == "arcp-conformance/diff-v1"
    assert all(isinstance(out[key], list) for key in SECTIONS)
    assert out["counts"] == {**dict.fromkeys(SECTIONS, 0), "new_failures": 1, "changed_problem_types": 1, "only_in_old": 1}
    assert out["new_failures"] == [{"id": MISMATCH, "old_verdict": "pass", "new_verdict": "fail", "reason": "wrong"}]
    assert out["only_in_old"][0]["new_verdict"] is None
    assert out["changed_problem_types"][0]["old_exchanges"] == [{"status": 401, "problem_type": PROBLEMS + "dpop-binding-mismatch"}]
    assert out["old"]["dpop_mode"] == "required" and out["new"]["dpop_mode"] == "optional"
    assert out["fail_on"] == "any" and out["failed"] is True


# --- command line: exit codes

@pytest.fixture
def files(tmp_path):
    def make(old, new):
        return [write(tmp_path, "old.json", old), write(tmp_path, "new.json", new)]
    return make


@pytest.mark.parametrize(
    ("new_verdict", "fail_on", "status"),
    [("fail", None, 1), ("fail", "new-failures", 1), ("fail", "any", 1), ("fail", "never", 0),
     ("stale", None, 1), ("warn", None, 0), ("warn", "any", 1), ("inconclusive", None, 0), ("inconclusive", "any", 1),
     ("pass", None, 0), ("pass", "any", 0), ("pass", "never", 0)],
)
def test_exit_status(files, capsys, new_verdict, fail_on, status):
    argv = files(results(check(verdict="pass")), results(check(verdict=new_verdict)))
    if fail_on:
        argv += ["--fail-on", fail_on]
    assert main(argv) == status
    out, err = capsys.readouterr()
    assert out.splitlines()[-1].startswith("summary: ")
    assert err == ""


def test_fail_on_any_counts_checks_only_on_one_side(files, capsys):
    argv = files(results(check()), results(check(), check(REPLAY, "pass")))
    assert main(argv) == 0
    assert main([*argv, "--fail-on", "any"]) == 1


def test_main_json_format(files, capsys):
    argv = files(results(check(verdict="pass")), results(check(verdict="fail")))
    assert main([*argv, "--format", "json", "--fail-on", "never"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [e["id"] for e in out["new_failures"]] == [MISMATCH]
    assert out["failed"] is False


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no such file"),
        ("not json {", "not JSON"),
        (b"\xff\xfe\x00garbage", "not JSON"),
        ("[1, 2]", "not a results file"),
        (json.dumps({"checks": []}), 'no "format"'),
        (json.dumps({"format": "arcp-conformance/baseline-v1", "entries": []}), 'unsupported format "arcp-conformance/baseline-v1"'),
        (json.dumps({"format": "\x1b[31mevil", "checks": []}), 'unsupported format "evil"'),
        (json.dumps({"format": FORMAT_V1}), '"checks" must be a list'),
        (json.dumps({"format": FORMAT_V1, "checks": [{"verdict": "pass"}]}), "check 0 needs a string id"),
        (json.dumps({"format": FORMAT_V1, "checks": [{"id": "a", "verdict": "pass"}, {"id": "a", "verdict": "fail"}]}), "appears twice"),
        (json.dumps({"format": FORMAT_V1, "checks": [{"id": "a", "verdict": "pass", "exchanges": {}}]}), '"exchanges" must be a list'),
        (json.dumps({"format": FORMAT_V1, "checks": [{"id": "a", "verdict": "pass", "exchanges": [{"status": "401"}]}]}),
         "status must be an integer"),
        ("[" * 100000 + "]" * 100000, "not"),
    ],
    ids=["missing", "not-json", "not-utf8", "not-object", "no-format", "wrong-format", "hostile-format", "no-checks",
         "check-without-id", "duplicate-id", "bad-exchanges", "bad-status", "deeply-nested"],
)
def test_usage_errors_exit_2_with_one_line(tmp_path, capsys, content, expected):
    good = write(tmp_path, "good.json", results(check()))
    bad = str(tmp_path / "bad.json")
    if isinstance(content, bytes):
        Path(bad).write_bytes(content)
    elif content is not None:
        Path(bad).write_text(content, encoding="utf-8")
    for argv in ([good, bad], [bad, good]):
        assert main(argv) == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert err.startswith("arcp-conformance-diff: error: ") and err.count("\n") == 1, err
        assert "bad.json" in err and expected in err
        assert "Traceback" not in err and "\x1b" not in err


def test_a_directory_is_a_usage_error(tmp_path, capsys):
    assert main([str(tmp_path), write(tmp_path, "good.json", results(check()))]) == 2
    assert "is a directory" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [[], ["only-one.json"], ["a.json", "b.json", "--format", "yaml"],
                                  ["a.json", "b.json", "--fail-on", "sometimes"], ["a.json", "b.json", "--bogus"]])
def test_bad_arguments_exit_2_with_one_line(capsys, argv):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "usage: arcp-conformance-diff OLD.json NEW.json" in err


def test_help_exits_0(capsys):
    assert main(["--help"]) == 0
    assert "--fail-on" in capsys.readouterr().out


def test_load_reads_a_file(tmp_path):
    r = load(write(tmp_path, "r.json", results(check(), mode="disabled")))
    assert r.format == FORMAT_V2 and r.dpop_mode == "disabled" and set(r.checks) == {MISMATCH}
    with pytest.raises(DiffError):
        load(tmp_path / "absent.json")


# --- end to end

def _module(*args, cwd):
    return subprocess.run([sys.executable, "-m", "conformance.report.diff", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=60)


def test_python_m_conformance_diff_end_to_end(tmp_path):
    repo = ROOT
    old = write(tmp_path, "old.json", results(check(verdict="pass"), check(REPLAY, "fail", "replay accepted")))
    new = write(tmp_path, "new.json", results(
        check(verdict="fail", message="\x1b[31mproof accepted\x1b[0m", exchanges=[exchange(400, "invalid-dpop-proof")]),
        check(REPLAY, "pass"), mode="optional"))
    proc = _module(old, new, cwd=repo)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""
    assert "warning: DPoP modes differ (required -> optional)" in proc.stdout
    assert f"New failures (1):\n  {MISMATCH}  pass -> fail  proof accepted" in proc.stdout
    assert f"Fixed (1):\n  {REPLAY}  fail -> pass  was: replay accepted" in proc.stdout
    assert "Changed problem types (1):" in proc.stdout
    assert "\x1b" not in proc.stdout

    proc = _module(old, new, "--format", "json", "--fail-on", "never", cwd=repo)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["counts"]["fixed"] == 1

    proc = _module(old, str(tmp_path / "missing.json"), cwd=repo)
    assert proc.returncode == 2
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"arcp-conformance-diff: error: {tmp_path / 'missing.json'}: no such file"


def test_a_runs_own_ports_agent_ids_and_key_urls_are_not_differences():
    from conformance.report.diff import normalize

    def message(port, agent, key):
        return {"message": f"GET http://127.0.0.1:{port}/keys/{key}.pem for /agents/arcp-conf-o-{agent}/heartbeat"}

    first = normalize(message(4711, "f22283549b", "v-UnI6Rojx7PJhokqrHUS1ch"))
    assert first == normalize(message(5822, "0c1d2e3f4a", "UakY4cmhx0WdNyUC17sTu74k"))
    assert first == {"message": "GET http://127.0.0.1:<port>/keys/<id>.pem for /agents/arcp-conf-o-<id>/heartbeat"}
    assert normalize({"m": "/keys/short.json"}) == {"m": "/keys/short.json"}  # only the run's own 24-character names


def test_a_results_file_that_says_skip_compares_as_not_applicable():
    # results written before the verdict was named "not-applicable"
    d = run(results(check(verdict="skip")), results(check(verdict="not-applicable")))
    assert changed(d) == {}
