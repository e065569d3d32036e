"""The suite's own HTML report (conformance.report.page), rendered from small results documents:
verdict first, sections in the reader's order, one set of counts, each exchange once, and inert
whatever the target sent."""
from __future__ import annotations

import re
from html.parser import HTMLParser

from conformance.report import page, results, summary
from conformance.spec.catalogue import requirements
from conformance.spec.vocabulary import FAIL, INCONCLUSIVE, NO_VERDICT, NOT_APPLICABLE, PASS, WARN

HOSTILE = "<script>document.title='pwned'</script><img src=x onerror=alert(2)>\"'&"
ENV = {"Python": "3.x", "Platform": "test", "Packages": {"pytest": "8"}}
MUST_REQ, SHOULD_REQ, OTHER_REQ = "PROOF-replay", "PROBLEM-recommended", "PROOF-htm-mismatch"


def exchange(body: str = '{"ok":true}', status: int = 200) -> dict:
    return {"method": "POST", "url": "http://target/auth/agent/validate_compliance", "request_headers": [["DPoP", "<proof sha256:ab>"]],
            "request_body": {"a": 1}, "status": status, "response_headers": [["content-type", "application/json"]], "body": body,
            "body_truncated": False, "problem": None, "problem_type": None, "error": None, "attempts": 1}


def check(req: str, subject: str, verdict: str, message: str = "", exchanges: list | None = None, endpoint: str = "validate") -> dict:
    token, proof = "bound", subject
    return {"id": f"{req}@{endpoint}:{token}:{proof}", "requirement": req, "level": requirements()[req].level, "subject": subject,
            "case": {"endpoint": endpoint, "token": token, "proof": proof}, "request": None, "verdict": verdict,
            "message": message or f"{verdict} message of {subject}", "exchanges": exchanges if exchanges is not None else [exchange()],
            "reproducer": {"command": f"arcp-conformance reproduce reports/reproducers/{req}.json", "plan_file": f"reproducers/{req}.json",
                           "suite_command": f"pytest --check {req}@{endpoint}:{token}:{proof}", "environment": []}}


def document(checks: list[dict], exit_status: int, server_version: str | None = "1.0") -> dict:
    target = {"url": "http://target", "spec": "http://target", "server_version": server_version, "dpop_mode": "required",
              "dpop_mode_source": "given", "forged_tokens": False, "operations": {}, "dpop_nonce": None, "algorithms": None}
    options = {"strict": False, "baseline": None, "checks": None}
    doc = results.document(target=target, options=options, started_at="2026-01-01T00:00:00Z", exit_status=exit_status,
                           checks=checks, catalogue=requirements())
    doc["transport"] = {"requests": 3, "unanswered": 0, "throttled": 0, "stopped": None, "given_up": []}
    return doc


def mixed_doc() -> dict:
    shared = [exchange("shared-exchange-body")]
    return document([
        check(MUST_REQ, "replay", FAIL, exchanges=shared),
        check(SHOULD_REQ, "replay", WARN, exchanges=shared),  # the same situation: the same exchange
        check(SHOULD_REQ, "valid", WARN),
        check(MUST_REQ, "valid", PASS),
        check(OTHER_REQ, "htm-wrong", PASS),
        check(OTHER_REQ, "typ-missing", INCONCLUSIVE, "the positive control was refused"),
        check(OTHER_REQ, "nonce-missing", NOT_APPLICABLE, "the target gives no DPoP-Nonce"),
    ], exit_status=1)


def render(doc, error=None) -> str:
    return page.render(doc, error, env=ENV)


class Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parsed(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    return tags


def test_sections_come_in_the_readers_order():
    html = render(mixed_doc())
    marks = ['id="verdict"', 'id="failures"', 'id="warnings"', 'id="inconclusive"', 'id="arcp-matrix"', 'id="passing"',
             'id="not-applicable"', 'id="environment"']
    positions = [html.index(mark) for mark in marks]
    assert positions == sorted(positions)
    assert html.index(f'id="req-{MUST_REQ}"') < html.index(f'id="req-{SHOULD_REQ}"') < html.index(f'id="req-{OTHER_REQ}"')


def test_the_banner_of_a_failing_run_says_which_requirements_broke_and_counts_once():
    doc = mixed_doc()
    html = render(doc)
    banner = html.split('id="verdict"', 1)[1].split("</div>", 1)[0]
    assert 'class="banner banner-failing"' in html
    assert summary.exit_meaning(1, doc["checks"], None, False) == "exit 1: 1 MUST requirement broken"
    assert "exit 1: 1 MUST requirement broken" in banner and "http://target" in banner and "required (given)" in banner
    counts = summary.counts_text(doc["checks"])
    assert counts in banner and html.count(counts) == 1  # the only set of counts on the page
    assert f'<details class="req v-fail" id="req-{MUST_REQ}" open>' in html


def test_the_banner_of_a_conformant_run():
    html = render(document([check(MUST_REQ, "replay", PASS)], exit_status=0))
    assert 'class="banner banner-conformant"' in html and "exit 0: conformant" in html
    assert 'id="failures"' not in html and f'<details class="req v-pass" id="req-{MUST_REQ}">' in html  # collapsed


def test_the_banner_of_a_run_without_verdict_says_why():
    doc = document([check(MUST_REQ, "replay", INCONCLUSIVE, "rate limited")], exit_status=NO_VERDICT)
    html = render(doc, "every check was inconclusive or not applicable: no verdict about the target")
    assert 'class="banner banner-no-verdict"' in html
    assert "exit 3: no verdict: every check was inconclusive or not applicable" in html
    html = render(None, "the target refused the agent key (401 authentication-failed)")
    assert 'class="banner banner-no-verdict"' in html and "the target refused the agent key" in html and 'id="environment"' in html


def test_each_exchange_is_shown_once():
    html = render(mixed_doc())
    assert html.count("shared-exchange-body") == 1
    assert f'the same as <a href="#check-{MUST_REQ}@validate:bound:replay">' in html


def test_every_check_is_on_the_page_once():
    doc = mixed_doc()
    html = render(doc)
    for c in doc["checks"]:
        assert html.count(f'id="check-{c["id"]}"') == 1, c["id"]


def test_inconclusive_and_not_applicable_checks_are_grouped_by_reason_collapsed():
    html = render(mixed_doc())
    section = html.split('id="inconclusive"', 1)[1].split("</section>", 1)[0]
    assert "<details><summary>1 × the positive control was refused</summary>" in section
    section = html.split('id="not-applicable"', 1)[1].split("</section>", 1)[0]
    assert "<details><summary>1 × the target gives no DPoP-Nonce</summary>" in section


def test_hostile_text_from_the_target_is_escaped_and_nothing_can_run():
    doc = mixed_doc()
    failing = doc["checks"][0]
    failing["message"] = HOSTILE
    failing["exchanges"][0]["body"] = HOSTILE
    failing["exchanges"][0]["response_headers"].append(["x-evil", HOSTILE])
    failing["reproducer"]["plan_file"] = HOSTILE
    doc["target"]["server_version"] = HOSTILE
    doc["target"]["url"] = HOSTILE
    html = page.render(doc, HOSTILE, env=ENV, plan_base=".")
    assert "<script" not in html.lower() and "<img" not in html.lower()
    tags = parsed(html)
    assert not [(t, a) for t, a in tags.tags for name in a if name.startswith("on")]
    assert {t for t, _ in tags.tags} >= {"meta", "style", "details", "summary"}
    csp = [a for t, a in tags.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp == [{"http-equiv": "Content-Security-Policy", "content": "default-src 'none'; style-src 'unsafe-inline'; img-src data:"}]
    assert "document.title='pwned'" in "".join(tags.text)  # there, as text


def test_no_raw_python_values_on_the_page():
    html = render(document([check(MUST_REQ, "replay", FAIL)], exit_status=1, server_version=None))
    text = "".join(parsed(html).text)
    assert not re.search(r"\bNone\b|\(\s*'|\[\s*'|\{\s*'", text), re.search(r".{40}(\bNone\b|\(\s*'|\[\s*'|\{\s*').{40}", text)


def test_the_page_written_streams_the_same_text_as_rendered(tmp_path):
    """write() streams the page chunk by chunk (a page of thousands of failed checks is never one
    string in memory: 20 MB less peak for the hostile run), with the text render() gives."""
    doc = mixed_doc()
    page.write(tmp_path / "report.html", doc, "why")
    assert (tmp_path / "report.html").read_text(encoding="utf-8") == page.render(doc, "why")
