"""The plugin's options: command line, then environment variable, then ini file; turning them
into the run's settings, and the usage errors (exit 2) for values that make no sense."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from ..judging.fuzz import DEFAULT_EXAMPLES, DEFAULT_SECONDS, DEFAULT_SEED, FuzzSettings
from ..judging.stateful.run import DEFAULT_EXAMPLES as STATEFUL_EXAMPLES
from ..judging.stateful.run import DEFAULT_SECONDS as STATEFUL_SECONDS
from ..judging.stateful.run import DEFAULT_STEPS as STATEFUL_STEPS
from ..judging.stateful.run import StatefulSettings
from ..model_target.spec import SPEC_SCHEME, parse_spec
from ..report.results import DEFAULT_PATH as DEFAULT_RESULTS
from ..spec.vocabulary import USAGE_ERROR
from ..wire.client import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_REQUESTS,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_RETRY_CAP,
    DEFAULT_RUN_TIMEOUT,
    PATH_FAILURES_TO_GIVE_UP,
)
from ..wire.session import ENV

MODEL_SCHEME = SPEC_SCHEME
HYPOTHESIS_DIR_DEFAULT = ".hypothesis"  # Hypothesis' own default, in the current folder
NO_HYPOTHESIS_DIR = "none"

# option name -> (environment variable, help); the ini key is the dest, arcp_<name with _>
OPTIONS = {
    "target-url": (ENV["target_url"], "The ARCP server under test, e.g. http://127.0.0.1:8001, or model:MODE[:FAULT,...] for the embedded model server."),
    "agent-key": (ENV["agent_key"], "A registration key the target accepts at phase 1 (prefer the environment variable: argv is visible to other users)."),
    "agent-type": ("ARCP_CONFORMANCE_AGENT_TYPE", "Agent type to register (default: the first type the target allows)."),
    "dpop-mode": ("ARCP_CONFORMANCE_DPOP_MODE", "The target's DPoP mode: required, optional, disabled or auto (default auto: detected, heuristic)."),
    "jwt-secret": (ENV["jwt_secret"], "The target's token signing secret: enables the checks that need forged tokens (prefer the environment variable)."),
    "agent-endpoint-host": (ENV["agent_endpoint_host"], "Address at which the target reaches the suite's agent endpoint (default 127.0.0.1)."),
    "conformance-strict": ("ARCP_CONFORMANCE_STRICT", "Fail the run on SHOULD violations too (pytest owns --strict)."),
    "conformance-json": ("ARCP_CONFORMANCE_JSON", "Where to write the results as JSON (default reports/conformance.json)."),
    "conformance-html": ("ARCP_CONFORMANCE_HTML", "Where to write the suite's HTML report, verdict first (default reports/conformance.html). pytest-html's --html, if given, writes its own per-test report to another file."),
    "baseline": ("ARCP_CONFORMANCE_BASELINE", "A baseline file of accepted deviations: listed failures do not fail the run; listed checks that pass, or expired entries, do. Entries with \"verdict\": \"inconclusive\" accept gaps: those checks left inconclusive do not make the run incomplete (exit 3)."),
    "write-baseline": ("ARCP_CONFORMANCE_WRITE_BASELINE", "Write a baseline of this run's failed and warned checks, and of its inconclusive MUST checks as gaps, to this file."),
    "check": ("ARCP_CONFORMANCE_CHECK", "Run only the checks whose id matches this pattern (fnmatch, e.g. 'PROOF-*@validate:*'); repeat the option or separate patterns with commas."),
    "fuzz-examples": ("ARCP_CONFORMANCE_FUZZ_EXAMPLES", "Hypothesis examples of the DPoP proof fuzzing at phase 2 (default 30; 0 disables it), after a fixed corpus of 25 (each named defect alone, wrong claim types, a replay). At most 3 requests each; --hypothesis-seed picks the examples (default seed 5449)."),
    "fuzz-seconds": ("ARCP_CONFORMANCE_FUZZ_SECONDS", "Wall-clock budget of the fuzzing in seconds (default 60): when spent, no more examples are sent."),
    "stateful-examples": ("ARCP_CONFORMANCE_STATEFUL_EXAMPLES", "Examples (step sequences) of the registration-flow state machine (default 20; 0 disables it). It runs once, after the other checks; --hypothesis-seed picks the sequences (default seed 5449)."),
    "stateful-steps": ("ARCP_CONFORMANCE_STATEFUL_STEPS", "Steps per state-machine example (default 8; a warm-up of up to 3 ordinary steps comes on top)."),
    "stateful-seconds": ("ARCP_CONFORMANCE_STATEFUL_SECONDS", "Wall-clock budget of the state machine in seconds (default 300, a safety net: a run that spends it may take another path): when spent, no more steps are sent."),
    "stateful-shrink-examples": ("ARCP_CONFORMANCE_STATEFUL_SHRINK_EXAMPLES", "State-machine examples allowed after the last one that found something new, an invariant broken for the first time or a shorter failing sequence (default 100, or twice --stateful-examples if more): counted, so a seed takes the same path every time; when spent, no more steps are sent and a failing sequence may not be minimal."),
    "request-timeout": ("ARCP_CONFORMANCE_REQUEST_TIMEOUT", f"Seconds each request may take, connection to last byte (default {DEFAULT_REQUEST_TIMEOUT:g}). A request that takes longer has no response (its checks are inconclusive); after {PATH_FAILURES_TO_GIVE_UP} in a row on one path the suite sends nothing more there."),
    "run-timeout": ("ARCP_CONFORMANCE_RUN_TIMEOUT", f"Seconds the whole run may send requests (default {DEFAULT_RUN_TIMEOUT:g}): when spent, nothing more is sent, the remaining checks are inconclusive and the run exits 3."),
    "max-requests": ("ARCP_CONFORMANCE_MAX_REQUESTS", f"Requests the run may send in all, retries included (default {DEFAULT_MAX_REQUESTS}): when spent, nothing more is sent, the remaining checks are inconclusive and the run exits 3."),
    "conformance-concurrency": ("ARCP_CONFORMANCE_CONCURRENCY", f"Requests in flight at once (default {DEFAULT_CONCURRENCY}; 1 sends one after another): independent situations are sent ahead of their checks, and the state machine and the fuzz run (from N = 3 and 4) on threads of their own, N senders in all; the ordered situations (phase 3, unregister) wait their turn."),
    "conformance-hypothesis-dir": ("ARCP_CONFORMANCE_HYPOTHESIS_DIR", f"Where Hypothesis keeps its caches during the run (default {HYPOTHESIS_DIR_DEFAULT}/ in the current folder, as Hypothesis does; '{NO_HYPOTHESIS_DIR}': a temporary folder, removed at the end). The suite keeps no example database: its searches are seeded."),
    "retry-after-cap": ("ARCP_CONFORMANCE_RETRY_AFTER_CAP", f"Seconds of Retry-After honoured per request on 429 and 503 (default {DEFAULT_RETRY_CAP:g}; 0 never waits): a request still refused then makes its checks inconclusive."),
}
# Environment variables a reproducer needs set as for the original run (secrets are never printed).
SECRET_ENV = {"agent-key": OPTIONS["agent-key"][0], "jwt-secret": OPTIONS["jwt-secret"][0]}


def dest(name: str) -> str:
    return "arcp_" + name.replace("-", "_")


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("arcp-conformance", "ARCP conformance suite")
    for name, (env, help_text) in OPTIONS.items():
        kwargs = {"action": "store_true"} if name == "conformance-strict" else {"action": "append"} if name == "check" else {"default": None}
        group.addoption(f"--{name}", dest=dest(name), help=f"{help_text} Env: {env}; ini: {dest(name)}.", **kwargs)
        parser.addini(dest(name), help_text, default=None)


def option(config: pytest.Config, name: str) -> str | None:
    """Command line, then environment variable, then ini file."""
    value = config.getoption(dest(name))
    if value not in (None, False):
        return value
    env = os.environ.get(OPTIONS[name][0])
    if env:
        return env
    ini = config.getini(dest(name))
    return ini or None


def truthy(value: object) -> bool:
    return value is True or str(value).lower() in ("1", "true", "yes", "on")


def strict(config: pytest.Config) -> bool:
    return truthy(option(config, "conformance-strict"))


def usage_error(message: str):
    """Stop the run with exit code 2 and one line naming the problem."""
    pytest.exit(f"arcp-conformance: {message}", returncode=USAGE_ERROR)


def check_patterns(config: pytest.Config) -> list[str] | None:
    value = option(config, "check")
    if not value:
        return None
    values = value if isinstance(value, list) else [value]
    return [p.strip() for v in values for p in str(v).split(",") if p.strip()]


def results_path(config: pytest.Config) -> Path:
    return Path(option(config, "conformance-json") or DEFAULT_RESULTS)


def html_path(config: pytest.Config) -> Path:
    return Path(option(config, "conformance-html") or Path("reports") / "conformance.html")


model_spec = parse_spec  # `model:MODE[:ITEM,...]` -> (mode, faults, model options)


def number(config: pytest.Config, name: str, default, kind):
    value = option(config, name)
    if value in (None, ""):
        return default
    try:
        parsed = kind(value)
    except ValueError:
        parsed = -1
    if parsed < 0:
        usage_error(f"--{name} must be a non-negative number, got {value!r}")
    return parsed


def limits(config: pytest.Config) -> dict:
    """The transport's limits (wire.session.Settings fields): per request, per run, and Retry-After."""
    timeout = number(config, "request-timeout", DEFAULT_REQUEST_TIMEOUT, float)
    run_timeout = number(config, "run-timeout", DEFAULT_RUN_TIMEOUT, float)
    max_requests = number(config, "max-requests", DEFAULT_MAX_REQUESTS, int)
    for name, value in (("request-timeout", timeout), ("run-timeout", run_timeout), ("max-requests", max_requests)):
        if value <= 0:
            usage_error(f"--{name} must be greater than 0, got {option(config, name)!r}")
    concurrency = number(config, "conformance-concurrency", DEFAULT_CONCURRENCY, int)
    if concurrency < 1:
        usage_error(f"--conformance-concurrency must be at least 1, got {option(config, 'conformance-concurrency')!r}")
    return {"timeout": timeout, "run_timeout": run_timeout, "max_requests": max_requests,
            "retry_cap": number(config, "retry-after-cap", DEFAULT_RETRY_CAP, float), "concurrency": concurrency}


def fuzz_settings(config: pytest.Config) -> FuzzSettings:
    raw_seed = config.getoption("hypothesis_seed", None)
    if raw_seed is None:
        seed, source = DEFAULT_SEED, "default"
    else:
        seed, source = (int(raw_seed) if str(raw_seed).isdigit() else str(raw_seed)), "--hypothesis-seed"
    return FuzzSettings(number(config, "fuzz-examples", DEFAULT_EXAMPLES, int), number(config, "fuzz-seconds", DEFAULT_SECONDS, float), seed, source)


def stateful_settings(config: pytest.Config, fuzz: FuzzSettings) -> StatefulSettings:
    """The state machine's settings; its seed is the fuzzing's (--hypothesis-seed or 5449)."""
    examples = number(config, "stateful-examples", STATEFUL_EXAMPLES, int)
    steps = number(config, "stateful-steps", STATEFUL_STEPS, int)
    if steps < 1 and examples > 0:
        usage_error(f"--stateful-steps must be at least 1, got {steps}")
    seconds = number(config, "stateful-seconds", STATEFUL_SECONDS, float)
    shrink = number(config, "stateful-shrink-examples", None, int)
    return StatefulSettings(examples, steps, seconds, fuzz.seed, fuzz.seed_source, shrink)
