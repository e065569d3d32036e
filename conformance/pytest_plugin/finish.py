"""Finishing a run: what its session says about the target (merged over xdist workers), the exit
policy, the baseline written, and the results document with its HTML report and reproducers."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from ..dpop.json_text import read_json
from ..judging.judge_check import known_checks
from ..report import baseline, completeness, page, results
from ..spec.catalogue import requirements
from ..spec.vocabulary import BASELINED, FAIL, JUDGED, NO_VERDICT, USAGE_ERROR, graded
from ..wire.client import TargetClient
from ..wire.exchange import Exchange
from .options import check_patterns, html_path, option, results_path, strict
from .outcomes import SUITE_ERROR, write_reproducers
from .state import state
from .xdist import is_worker



def run_facts(config: pytest.Config) -> dict:
    """What this process's session says about the run (a worker sends it to the xdist controller):
    the target, the limits, the transport, the explorations' summaries and console lines."""
    run = state(config)
    conf = run.session
    facts: dict = {"error": run.error, "usage_error": run.worker_usage_error, "target": None}
    if conf is None:
        return facts
    ran_ids = {r["id"] for r in run.records}
    summaries, lines = {}, []
    for name, exploration in run.explorations.items():
        ran = [c for c in exploration.checks(conf.mode) if c.id in ran_ids]
        summaries[name] = exploration.summary(ran) if ran and exploration.done else None
        if exploration.done:
            lines.append(exploration.console_line())
    facts.update(
        target={
            "url": conf.client.base_url,
            "spec": option(config, "target-url"),
            "server_version": conf.discovery.version,
            "dpop_mode": conf.mode,
            "dpop_mode_source": conf.mode_source,
            "forged_tokens": conf.forger is not None,
            "operations": conf.operations_seen(),
            "dpop_nonce": {"given": conf.client.nonce is not None, "retries": conf.client.nonce_retries},
            "algorithms": conf.algorithms(),
        },
        limits={"request_timeout": conf.client.timeout, "run_timeout": conf.client.run_timeout,
                "max_requests": conf.client.max_requests, "retry_after_cap": conf.client.retry_cap},
        transport=transport_summary(conf.client),
        notes=discovery_notes(conf.discovery.config_exchange) + transport_notes(conf.client) + operation_notes(conf.operations_seen()),
        cut_short=bool(conf.client.stopped or conf.client.given_up),
        summaries=summaries,
        lines=lines,
        junit_properties=[
            ["arcp_target", conf.client.base_url],
            ["arcp_server_version", conf.discovery.version or "unknown"],
            ["arcp_dpop_mode", f"{conf.mode} ({conf.mode_source})"],
            ["arcp_forged_tokens", "on" if conf.forger else "off"],
        ],
    )
    return facts


def merged_facts(config: pytest.Config) -> dict | None:
    """This run's facts: the local session's, or on the xdist controller the workers' together
    (the target as the first worker to finish saw it; transport counts added up). None when there
    is no target at all."""
    run = state(config)
    if run.session is not None:
        return run_facts(config)
    if run.controller_mode is None:
        return {"error": run.error, "usage_error": None, "target": None} if run.error else None
    ordered = list(run.workers.values())  # in the order the workers finished, as the JUnit properties
    errors = [f["error"] for f in ordered if f.get("error")]
    usage = next((f["usage_error"] for f in ordered if f.get("usage_error")), None)
    with_target = [f for f in ordered if f.get("target")]
    if not with_target:
        return {"error": errors[0] if errors else "no pytest-xdist worker reported a session", "usage_error": usage, "target": None}
    first = with_target[0]
    _merge_algorithms(first["target"], [f["target"] for f in with_target])
    modes = sorted({f["target"]["dpop_mode"] for f in with_target})
    error = errors[0] if errors else None
    if len(modes) > 1:
        error = f"the pytest-xdist workers detected different DPoP modes ({', '.join(modes)}): give --dpop-mode"
    transports = [f["transport"] for f in with_target]
    names = sorted({name for f in with_target for name in f["summaries"]})
    return {
        "error": error,
        "usage_error": usage,
        "target": first["target"],
        "limits": first["limits"],
        "transport": {
            "requests": sum(t["requests"] for t in transports),
            "unanswered": sum(t["unanswered"] for t in transports),
            "throttled": sum(t["throttled"] for t in transports),
            "stopped": next((t["stopped"] for t in transports if t["stopped"]), None),
            "given_up": sorted({g for t in transports for g in t["given_up"]}),
        },
        "notes": [n for f in with_target for n in f["notes"]],
        "cut_short": any(f["cut_short"] for f in with_target),
        # each exploration ran on one worker: its summary is that worker's
        "summaries": {name: next((f["summaries"][name] for f in with_target if f["summaries"].get(name)), None) for name in names},
        "lines": [line for f in with_target for line in f["lines"]],
        "workers": len(with_target),
    }


def _merge_algorithms(target: dict, targets: list[dict]) -> None:
    """The algorithms every worker exercised (each sends the flows of the checks it runs)."""
    algs = target.get("algorithms")
    if algs is not None:
        seen = [a for t in targets for a in (t.get("algorithms") or {}).get("exercised", [])]
        algs["exercised"] = list(dict.fromkeys(seen))


def finish(session: pytest.Session) -> None:
    """At the end of the run: the exit status, the baseline written, the results document and
    the reproducers. On an xdist worker, only the facts for the controller."""
    config = session.config
    run = state(config)
    if is_worker(config):
        if option(config, "target-url"):
            config.workeroutput["arcp_conformance"] = json.dumps(run_facts(config))
        return
    facts = run.facts = merged_facts(config)
    if facts is None:
        return
    if facts.get("usage_error"):
        run.error = facts["usage_error"]
        session.exitstatus = USAGE_ERROR
        return
    if facts.get("error"):
        run.error = facts["error"]
    if facts["target"] is None:
        session.exitstatus = NO_VERDICT  # the target could not be used: no verdict at all
        page.write(html_path(config), None, run.error)  # not last run's report, left behind as if it were this one's
        return
    if facts.get("error"):  # xdist workers that disagree about the target
        session.exitstatus = NO_VERDICT
    records = run.records  # on the xdist controller in the order they came (the document sorts them)
    counts = results.count(records)
    mode = facts["target"]["dpop_mode"]
    _finish_baseline(session, mode, facts["target"]["server_version"], records)
    incomplete = completeness.unjudged(records, strict(config), run.baseline, date.today())
    crashed = [r for r in records if r.get("suite_error")]
    if records and not any(counts[v] for v in JUDGED):
        run.error = "every check was inconclusive or not applicable: no verdict about the target"
        session.exitstatus = NO_VERDICT
    elif session.exitstatus == 0 and (facts["cut_short"] or incomplete):
        # not tested is not conformant; cut short, the checks not judged may hide failures
        session.exitstatus = NO_VERDICT
        if incomplete:
            run.error = completeness.reason(incomplete, strict(config))
    elif incomplete:  # a failure decides the exit; what could not be judged is still said
        facts["notes"] = [*(facts.get("notes") or []), completeness.reason(incomplete, strict(config))]
    if crashed:  # whatever else happened, a run the suite could not finish judging is not a verdict
        first = crashed[0]
        run.error = (f"internal error: the suite failed while judging {len(crashed)} check{'s' if len(crashed) > 1 else ''}, "
                     f"a bug of arcp-conformance and not a verdict about the server (please report it); first {first['id']}: "
                     f"{first['message'].removeprefix(SUITE_ERROR + ': ')}")
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
    limits = facts["limits"]
    doc = results.document(
        target=facts["target"],
        options={
            "strict": strict(config),
            "baseline": option(config, "baseline"),
            "checks": check_patterns(config),
            "request_timeout": limits["request_timeout"],
            "run_timeout": limits["run_timeout"],
            "max_requests": limits["max_requests"],
            "retry_after_cap": limits["retry_after_cap"],
        },
        started_at=run.started,
        exit_status=int(session.exitstatus),
        checks=records,
        catalogue=requirements(),
        fuzz=facts["summaries"].get("fuzz"),
        stateful=facts["summaries"].get("stateful"),
    )
    doc["transport"] = facts["transport"]
    doc["incomplete"] = incomplete
    run.doc = doc
    results.write(results_path(config), doc)
    page.write(html_path(config), doc, run.error, results_path(config).parent)
    write_reproducers(config)


def transport_summary(client: TargetClient) -> dict:
    """The results document's `transport` member: what the run sent and why it stopped early."""
    return {
        "requests": client.requests,
        "unanswered": client.unanswered,
        "throttled": client.still_throttled,
        "stopped": client.stopped,
        "given_up": sorted(client.given_up.values()),
    }


def discovery_notes(config_exchange: Exchange | None) -> list[str]:
    """A configuration document the suite could not read (too deep, not JSON): ARCP's own defaults
    were used instead (the document is optional, profile §3), and the user should know."""
    ex = config_exchange
    if ex is None or not ex.ok or isinstance(ex.json(), dict):
        return []
    try:
        read_json(ex.body_text)
        why = "not a JSON object"
    except ValueError as exc:
        why = str(exc)[:160]
    return [f"the configuration document (GET {ex.path} -> {ex.status}) is not one the suite reads "
            f"({why}): ARCP's default endpoints and proof algorithms were used"]


def operation_notes(operations: dict[str, str]) -> list[str]:
    absent = [name for name, seen in operations.items() if seen == "absent"]
    if not absent:
        return []
    return [f"the target has no {', '.join(absent)} operation{'s' if len(absent) > 1 else ''} (404 or 405 for a registered "
            "agent's own id): those checks are not applicable"]


def transport_notes(client: TargetClient) -> list[str]:
    """Console lines about the transport: a budget spent, paths given up, rate limiting, silence."""
    notes = [f"{why}; the checks that needed it are inconclusive" for why in sorted(client.given_up.values())]
    if client.stopped:
        notes.append(f"stopped early: {client.stopped}; {client.requests} requests sent, the remaining checks are inconclusive")
    if client.still_throttled:
        notes.append(f"rate limited: {client.still_throttled} responses were still 429, 503 or a lockout after honouring Retry-After "
                     f"up to {client.retry_cap:g} s (--retry-after-cap); the checks that needed them are inconclusive")
    if client.unanswered and not client.given_up and not client.stopped:
        notes.append(f"{client.unanswered} requests got no complete response; the checks that needed them are inconclusive")
    return notes


def _finish_baseline(session: pytest.Session, mode: str, server_version: str | None, records: list[dict]) -> None:
    config = session.config
    run = state(config)
    unknown = sorted(set(run.baseline) - {c.id for c in known_checks(mode)})
    if unknown:
        # an entry that names no check of this mode can never match: stale
        run.error = f"stale baseline entries (no such check in {mode} mode): {', '.join(unknown[:10])}"
        session.exitstatus = 1
    target = option(config, "write-baseline")
    if target:
        note = f"recorded {date.today().isoformat()} against {server_version or 'unknown version'}, DPoP {mode}"
        about = {"recorded": date.today().isoformat(), "server_version": server_version, "dpop_mode": mode,
                 "counts": _counts_without_baseline(records)}
        baseline.write(Path(target), records, run.baseline, note, about, strict=strict(config))


def _counts_without_baseline(records: list[dict]) -> dict[str, int]:
    """Verdict counts as the run would have had without a baseline (what the server did)."""
    counts = results.count(records)
    for record in records:
        if record["verdict"] == BASELINED:
            counts[BASELINED] -= 1
            counts[graded(FAIL, record["level"])] += 1
    return counts
