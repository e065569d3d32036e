"""HTML fragments built from the results document only: the token × proof matrix per endpoint,
the malformed requests, the fuzz and state-machine sections, the target's lines, and one check's
exchanges and reproducer (pytest-html's row extra). The report page (report.page) places them.

Everything taken from a run (server answers above all) is escaped: the report stays inert
whatever the target sends. Only the links of our own requirement catalogue become anchors.
"""
from __future__ import annotations

from html import escape

from ..dpop.proofs import CONTROLS, DEFECTS
from ..dpop.malformed import AUTH_JUNK
from ..spec.cases import ENDPOINTS, INVALID_TOKENS, NONCE_PROOFS, Case, expect
from ..spec.requests import BODY_VARIANTS, ENDPOINT_TEXT, MalformedCase, expect_malformed
from ..spec.vocabulary import FAIL, STALE, WARN
from .exchange_text import exchange_text

TOKEN_ORDER = ("bound", "mismatched", "unbound", "legacy", *INVALID_TOKENS, "wrong-phase", "missing")
PROOF_ORDER = ("valid", "none", *DEFECTS, *CONTROLS, "dpop-scheme", "replay", *NONCE_PROOFS)

def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _verdict(v: str) -> str:
    return f'<span class="v-{_e(v)}">{_e(v)}</span>'


def _safe_url(url: str) -> str | None:
    return url if url.startswith(("https://", "http://")) else None


def linked_source(source: str, links: list[dict]) -> str:
    """The source line with each mention the catalogue can link turned into an anchor."""
    out, pos = [], 0
    for link in links:
        start = source.find(link["text"], pos)
        url = _safe_url(link["url"])
        if start < 0 or url is None:
            continue
        out.append(_e(source[pos:start]))
        out.append(f'<a href="{_e(url)}" target="_blank" rel="noopener noreferrer">{_e(link["text"])}</a>')
        pos = start + len(link["text"])
    out.append(_e(source[pos:]))
    return "".join(out)


def matrix(doc: dict, endpoint: str) -> tuple[list[str], list[str], dict[tuple[str, str], dict]]:
    """(proof variants, token kinds, cell per (proof, token)): the verdict of the situation's
    outcome check, the status seen, and how many of its other checks failed or warned."""
    mode = doc["target"]["dpop_mode"]
    by_case: dict[tuple[str, str], list[dict]] = {}
    for check in doc["checks"]:
        case = check["case"]
        if case and case["endpoint"] == endpoint:
            by_case.setdefault((case["proof"], case["token"]), []).append(check)
    proofs = sorted({p for p, _ in by_case}, key=lambda p: (PROOF_ORDER.index(p) if p in PROOF_ORDER else len(PROOF_ORDER), p))
    tokens = sorted({t for _, t in by_case}, key=lambda t: (TOKEN_ORDER.index(t) if t in TOKEN_ORDER else len(TOKEN_ORDER), t))
    cells = {key: _cell(checks, expect(Case(endpoint, key[1], key[0]), mode).requirement) for key, checks in by_case.items()}
    return proofs, tokens, cells


def _cell(checks: list[dict], outcome_req: str) -> dict:
    """A situation's cell: the verdict of its outcome check, the status seen, its other checks that failed or warned."""
    main = next((c for c in checks if c["requirement"] == outcome_req), checks[0])
    others = [c for c in checks if c is not main and c["verdict"] in (FAIL, WARN, STALE)]
    status = next((x["status"] for x in main["exchanges"] if x["status"] is not None), None)
    return {"check": main, "status": status, "others": others}


def _cell_html(cell: dict | None) -> str:
    if cell is None:
        return "<td></td>"
    check, others = cell["check"], cell["others"]
    flag = f" ⚑{len(others)}" if others else ""
    title = "; ".join(c["id"] for c in [check, *others])
    return f'<td class="v-{_e(check["verdict"])}" title="{_e(title)}">{_e(cell["status"] or "–")} {_e(check["verdict"])}{flag}</td>'


def matrix_section(doc: dict) -> str:
    parts = ['<div class="arcp-section" id="arcp-matrix"><h2>Token × proof matrix</h2>',
             "<p>Each cell: the verdict on whether the endpoint accepted or refused as required, the HTTP status seen, "
             "and ⚑N when N more checks of that situation (problem details, challenge) failed or warned.</p>"]
    for endpoint in ENDPOINTS:
        proofs, tokens, cells = matrix(doc, endpoint)
        if not cells:
            continue
        head = "".join(f"<th>{_e(t)}</th>" for t in tokens)
        rows = [f"<tr><th>{_e(proof)}</th>{''.join(_cell_html(cells.get((proof, token))) for token in tokens)}</tr>" for proof in proofs]
        parts.append(f'<h3>{_e(endpoint)} endpoint</h3><table class="arcp-matrix"><tr><th>proof \\ token</th>{head}</tr>{"".join(rows)}</table>')
    parts.append("</div>")
    return "".join(parts)


VARIANT_ORDER = (*dict.fromkeys(v for variants in BODY_VARIANTS.values() for v in variants), *AUTH_JUNK)


def malformed_section(doc: dict) -> str:
    """Malformed requests: per endpoint (rows) and variant (columns), the cell of its situation."""
    by_request: dict[tuple[str, str], list[dict]] = {}
    for check in doc["checks"]:
        request = check.get("request")  # absent in results written before malformed requests were checked
        if request:
            by_request.setdefault((request["endpoint"], request["variant"]), []).append(check)
    if not by_request:
        return ""
    order = list(ENDPOINT_TEXT)
    endpoints = sorted({e for e, _ in by_request}, key=lambda e: (order.index(e) if e in order else len(order), e))
    variants = sorted({v for _, v in by_request}, key=lambda v: (VARIANT_ORDER.index(v) if v in VARIANT_ORDER else len(VARIANT_ORDER), v))
    cells = {key: _cell(checks, expect_malformed(MalformedCase(*key)).requirement) for key, checks in by_request.items()}
    head = "".join(f"<th>{_e(v)}</th>" for v in variants)
    rows = "".join(f"<tr><th>{_e(e)}</th>{''.join(_cell_html(cells.get((e, v))) for v in variants)}</tr>" for e in endpoints)
    return ('<div class="arcp-section" id="arcp-malformed"><h2>Malformed requests</h2>'
            "<p>Each cell: the verdict on whether the endpoint refused the malformed request as required (a 4xx; a junk "
            "Authorization header with 401), the HTTP status seen, and ⚑N when N more checks of it (problem details, "
            "challenge) failed or warned. Everything else of each request was valid.</p>"
            f'<table class="arcp-matrix"><tr><th>endpoint \\ variant</th>{head}</tr>{rows}</table></div>')


def operations_line(target: dict) -> str:
    """Which agent operations the target has: an absent one's checks are not applicable, said here once."""
    seen = target.get("operations") or {}
    if not seen:
        return ""
    groups = {state: [name for name, s in seen.items() if s == state] for state in ("present", "absent", "untested")}
    words = {"present": "tested", "absent": "not on this target (404 or 405 for a registered agent's own id): not applicable",
             "untested": "not reached"}
    parts = [f"{_e(', '.join(names))}: {words[state]}" for state, names in groups.items() if names]
    return f"<p>Agent operations and refresh — {'; '.join(parts)}.</p>"


def nonce_line(nonce: dict | None) -> str:
    """Whether the target gave DPoP-Nonce values, and so whether the nonce checks applied."""
    if not nonce:
        return ""
    if not nonce["given"]:
        return "<p>DPoP-Nonce: the target gave none (the nonce checks are not applicable).</p>"
    return (f"<p>DPoP-Nonce: the target gave nonces; the suite's proofs carried the newest, and "
            f"{nonce['retries']} request{'s were' if nonce['retries'] != 1 else ' was'} sent again with a fresh one.</p>")


def algorithms_line(algs: dict | None) -> str:
    """The proof algorithms of the run: listed by the target, exercised, and those the suite cannot sign."""
    if not algs:
        return ""
    return f"<p>Proof algorithms {_e(algorithms_text(algs))}.</p>"


def algorithms_text(algs: dict) -> str:
    listed = ", ".join(algs["listed"]) or "none"
    source = "" if algs.get("advertised") else " (ARCP's default: the target advertises none)"
    text = f"listed by the target: {listed}{source}; exercised: {', '.join(algs['exercised']) or 'none'}"
    if algs.get("not_signable"):
        text += f"; listed but not signable by the suite (not judged): {', '.join(algs['not_signable'])}"
    return text


def fuzz_section(doc: dict) -> str:
    fuzz = doc.get("fuzz")
    if not fuzz:
        return ""
    stopped = f"; stopped early: the {_e(fuzz['stopped'])} budget was spent" if fuzz.get("stopped") else ""
    reason = f" {_e(fuzz['reason'])}." if fuzz.get("reason") else ""
    rows = []
    for check_id, prop in sorted(fuzz["properties"].items()):
        ex = prop["minimal_example"]
        if ex is None:
            example = "–"
        else:
            perturbations = "".join(f"<li>{_e(p)}</li>" for p in ex["perturbations"]) or "<li>none</li>"
            body = f'malformed body: <b>{_e(ex["body"])}</b>; ' if ex.get("body") else ""  # absent in older results
            example = (f'{body}defects <b>{_e(" + ".join(ex["defects"]) or "none")}</b> ({_e(ex["outcome"])}); perturbations:<ul>{perturbations}</ul>'
                       f'<small>{_e(ex["message"][:500])}</small>')
        rows.append(f'<tr><td>{_verdict(prop["verdict"])}</td><td><a href="#check-{_e(check_id)}">{_e(check_id)}</a></td><td>{example}</td></tr>')
    return (
        '<div class="arcp-section" id="arcp-fuzz"><h2>Fuzzing</h2>'
        f'<p>Seed {_e(fuzz["seed"])} ({_e(fuzz.get("seed_source", ""))}): {_e(fuzz["examples_run"])} examples run of '
        f'{_e(fuzz["examples_requested"])} requested, {_e(fuzz["requests"])} requests, {_e(fuzz["defect_sets"])} distinct defect sets; '
        f'{_e(fuzz["accepted"])} accepted, {_e(fuzz["refused"])} refused, {_e(fuzz["inconclusive"])} inconclusive '
        f'(defect-free twin not accepted){stopped}.{reason} Re-send the same examples with '
        f'<code>--hypothesis-seed {_e(fuzz["seed"])} --fuzz-examples {_e(fuzz["examples_requested"])}</code>.</p>'
        '<table><tr><th>verdict</th><th>property check</th><th>minimal failing example</th></tr>' + "".join(rows) + "</table></div>"
    )


def stateful_section(doc: dict) -> str:
    st = doc.get("stateful")
    if not st:
        return ""
    spent = (f"; the {st.get('budget_spent') or 'time'} budget was spent (later steps sent nothing, a sequence may not be minimal)"
             if st.get("budget_exhausted") else "")
    error = f" The run ended early: {_e(st['error'])}." if st.get("error") else ""
    leftovers = (f" Agents it could not unregister: {_e(', '.join(st['leftovers']))}." if st.get("leftovers") else "")
    rows = []
    for inv in st["invariants"]:
        if inv["minimal_steps"]:
            sequence = "<ol>" + "".join(f"<li>{_e(step)}</li>" for step in inv["minimal_steps"]) + "</ol>"
        else:
            sequence = "–"
        rows.append(f'<tr><td>{_verdict(inv["outcome"])}</td><td><a href="#check-{_e(inv["check_id"])}">{_e(inv["check_id"])}</a>'
                    f'<br><small>{_e(inv.get("statement", ""))}</small></td><td>{sequence}</td><td>{_e(inv["message"][:800])}</td></tr>')
    rerun = f'--hypothesis-seed {st["seed"]}'
    if st.get("examples_requested") is not None:
        rerun += f' --stateful-examples {st["examples_requested"]} --stateful-steps {st.get("steps_requested")} --stateful-seconds {st.get("seconds_budget"):g}'
        if st.get("shrink_examples_budget") is not None:
            rerun += f' --stateful-shrink-examples {st["shrink_examples_budget"]}'
    return (
        '<div class="arcp-section" id="arcp-stateful"><h2>Stateful flows</h2>'
        f'<p>Seed {_e(st["seed"])} ({_e(st.get("seed_source", ""))}): {_e(st["examples"])} examples, {_e(st["steps"])} steps sent '
        f'in {_e(st["elapsed_seconds"])} s{spent}.{error}{leftovers} Re-send the same sequences with <code>{_e(rerun)}</code>.</p>'
        '<table><tr><th>outcome</th><th>invariant check</th><th>minimal failing sequence</th><th>message</th></tr>'
        + "".join(rows) + "</table></div>"
    )


def check_extra(entry: dict, plan_href: str | None = None) -> str:
    """The exchanges and the reproducer of one check, for its row in the results table."""
    parts = [f'<div class="arcp-section"><p>{_verdict(entry["verdict"])} <b>{_e(entry["id"])}</b> ({_e(entry["level"])}) '
             f'<a href="#req-{_e(entry["requirement"])}">requirement {_e(entry["requirement"])}</a></p>']
    for ex in entry["exchanges"]:
        parts.append(f'<pre class="arcp-pre">{_e(exchange_text(ex))}</pre>')
    rep = entry.get("reproducer")
    if rep:
        env = f" (with {', '.join(rep['environment'])} set as for this run)" if rep["environment"] else ""
        if rep.get("plan_file"):
            link = f'<a href="{_e(plan_href)}">{_e(rep["plan_file"])}</a>' if plan_href else _e(rep["plan_file"])
            parts.append(f"<p>Reproduce it{_e(env)}: re-enacts the situation with fresh proofs and prints every request "
                         f"and response (its plan, next to the results file: {link}):</p><pre class=\"arcp-pre\">{_e(rep['command'])}</pre>")
        suite = rep.get("suite_command") or rep["command"]
        parts.append(f"<p>Re-run this check in the suite{_e(env)}:</p><pre class=\"arcp-pre\">{_e(suite)}</pre>")
    parts.append("</div>")
    return "".join(parts)
