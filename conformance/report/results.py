"""The results document (reports/conformance.json): one record per check, with the requirement
it judges, its verdict, the exchanges it saw (secrets reduced to fingerprints) and how to
reproduce it. Its shape is published as schemas/results.schema.json; tools (the diff command,
CI) read only this file.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from ..dpop.json_text import read_json
from ..spec.catalogue import SCHEMAS, Requirement, source_links
from ..spec.requests import MalformedCase
from ..spec.vocabulary import NOT_APPLICABLE, VERDICTS, VERDICT_ORDER
from ..wire import redact
from ..wire.exchange import Exchange

DEFAULT_PATH = Path("reports") / "conformance.json"  # where a run writes it unless --conformance-json says otherwise
FORMAT = "arcp-conformance/results-v2"  # v2: the verdict "skip" became "not-applicable"
BODY_LIMIT = 4096  # characters of a response body kept per exchange
HEADER_LIMIT = 40  # response header fields kept per exchange


def tool_version() -> str:
    try:
        return version("arcp-conformance")
    except PackageNotFoundError:
        return "unknown"


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def links_of(req: Requirement) -> list[dict]:
    return [{"text": req.source[start:end], "url": url} for start, end, url in source_links(req.source)]


def _redact_value(value: object, secrets: list[str]) -> object:
    """A parsed response body with every string redacted (tokens as their views, echoed secrets blanked)."""
    if isinstance(value, dict):
        return {redact.redact_text(str(k), secrets): _redact_value(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_value(v, secrets) for v in value]
    return redact.redact_text(value, secrets) if isinstance(value, str) else value


def exchange_record(ex: Exchange) -> dict:
    """One exchange as the outputs show it: tokens and proofs as their decoded header and claims
    plus a hash (conformance.wire.redact), request secrets blanked, and blanked in the response too
    should the target echo them; the body cut to BODY_LIMIT characters. Made once per exchange
    (a situation's exchange is shown by each of its ten or so checks) and never changed after."""
    cached = vars(ex).get("_record")
    if cached is None:
        cached = vars(ex)["_record"] = _exchange_record(ex)
    return cached


def _exchange_record(ex: Exchange) -> dict:
    secrets = ex.request_secrets()
    # redact before cutting, so that a cut never leaves the head of a token or secret behind
    body = redact.redact_text(ex.body_text[:BODY_LIMIT * 2], secrets)[:BODY_LIMIT]
    try:
        problem = read_json(ex.body_text) if len(ex.body_text) <= BODY_LIMIT and not ex.truncated else None
    except ValueError:
        problem = None
    problem = _redact_value(problem, secrets) if isinstance(problem, dict) else None
    ptype = problem.get("type") if problem else None
    record = {
        "method": ex.method,
        "url": ex.url,
        "request_headers": [[k, redact.redact_header(k, v, secrets)] for k, v in ex.request_headers],
        # a raw (malformed) body as its text, cut; a JSON body as JSON, its secret members blanked
        "request_body": redact.raw_text(ex.request_raw.content, secrets, BODY_LIMIT) if ex.request_raw is not None else redact.redact_body(ex.request_json),
        "status": ex.status,
        "response_headers": [[k, redact.redact_text(v[:2000], secrets)[:1000]] for k, v in ex.response_headers[:HEADER_LIMIT]],
        "body": body,
        "body_truncated": ex.truncated or len(ex.body_text) > BODY_LIMIT,
        "problem": problem,
        "problem_type": ptype if isinstance(ptype, str) else None,
        "error": redact.redact_text(ex.error, secrets) if ex.error else ex.error,
        "attempts": ex.attempts,
    }
    if ex.body_note:  # only then, as below: an answer the client decoded whole writes what it wrote before
        record["body_note"] = redact.redact_text(ex.body_note, secrets)
    if ex.retried_after is not None:  # only then: a run against a target that gives no nonce writes what it wrote before
        record["retried_after"] = exchange_record(ex.retried_after)
    return record


def check_record(check, verdict: str, message: str, exchanges: list[Exchange], reproducer: dict | None) -> dict:
    req = check.requirement
    case = check.case
    malformed = isinstance(case, MalformedCase)
    return {
        "id": check.id,
        "requirement": req.id,
        "level": req.level,
        "subject": check.subject,
        "case": {"endpoint": case.endpoint, "token": case.token, "proof": case.proof} if case and not malformed else None,
        "request": {"endpoint": case.endpoint, "variant": case.variant} if malformed else None,
        "verdict": verdict,
        "message": message,
        "exchanges": [exchange_record(ex) for ex in exchanges],
        "reproducer": reproducer,
    }


def count(records: list[dict]) -> dict[str, int]:
    return {v: sum(r["verdict"] == v for r in records) for v in VERDICTS}


def worst(verdicts) -> str:
    present = set(verdicts)
    return next((v for v in VERDICT_ORDER if v in present), NOT_APPLICABLE)


def requirement_records(checks: list[dict], catalogue: dict[str, Requirement]) -> list[dict]:
    by_req: dict[str, list[dict]] = {}
    for record in checks:
        by_req.setdefault(record["requirement"], []).append(record)
    out = []
    for req_id in sorted(by_req):
        req = catalogue[req_id]
        mine = by_req[req_id]
        out.append({
            "id": req.id,
            "level": req.level,
            "section": req.profile,
            "statement": req.statement,
            "source": req.source,
            "links": links_of(req),
            "verdict": worst(r["verdict"] for r in mine),
            "counts": count(mine),
        })
    return out


def document(*, target: dict, options: dict, started_at: str, exit_status: int, checks: list[dict], catalogue: dict[str, Requirement],
             fuzz: dict | None = None, stateful: dict | None = None) -> dict:
    checks = sorted(checks, key=lambda r: r["id"])
    return {
        "format": FORMAT,
        "tool": {"name": "arcp-conformance", "version": tool_version()},
        "started_at": started_at,
        "finished_at": now_rfc3339(),
        "target": target,
        "options": options,
        "exit_status": exit_status,
        "counts": count(checks),
        "requirements": requirement_records(checks, catalogue),
        "checks": checks,
        "fuzz": fuzz,  # the fuzz run (conformance.judging.fuzz.FuzzRun.summary), null when none ran
        "stateful": stateful,  # the state machine (conformance.judging.stateful.run.StatefulRun.summary), null when none ran
    }


@lru_cache(maxsize=1)
def _validator():
    import jsonschema  # lazily, as in problems.py

    schema = json.loads((SCHEMAS / "results.schema.json").read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def schema_errors(doc: object) -> list[str]:
    """Where `doc` breaks the published results schema (empty when it validates)."""
    errors = sorted(_validator().iter_errors(doc), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:300]}" for e in errors]


def write(path: Path, doc: dict) -> None:
    """Streamed to the file: one string of a whole run's document (14 MB of text, four bytes a
    character once any exchange holds a character beyond the BMP) took 75 MB at the run's peak."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
