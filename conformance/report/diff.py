"""Compare two results files (two runs, or two servers): new failures, fixed checks, changed problem types.

    python -m conformance.report.diff OLD.json NEW.json [--format text|json] [--fail-on new-failures|any|never]

Checks are matched by id. The volatile members of a problem (instance, timestamp, request_id, at any
depth) never make a difference; neither do the bodies of success responses, request details, the run's
own target origin and URL ports in a problem's text (each run listens on its own port), the agent ids
the run made up for itself, nor integers
in that text that differ by one (the clock ticked between proof and check: "599 s" / "600 s"). Every string taken from the files came, directly or not, from the
server under test: it is stripped of control characters and ANSI escapes and cut before it is printed.
Request headers are never printed.

Exit status: 0 when the --fail-on condition does not hold, 1 when it does, 2 for a usage error.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..spec.catalogue import current_check_id
from ..spec.vocabulary import BASELINED, FAIL, INCONCLUSIVE, LEGACY_NOT_APPLICABLE, NOT_APPLICABLE, PASS, STALE, WARN

PROG = "arcp-conformance-diff"
FORMAT_V2 = "arcp-conformance/results-v2"  # "not-applicable" where v1 said "skip"
FORMAT_V1 = "arcp-conformance/results-v1"
FORMAT_V0 = "arcp-conformance/results-v0"
FORMATS = (FORMAT_V2, FORMAT_V1, FORMAT_V0)
WITH_EXCHANGES = (FORMAT_V2, FORMAT_V1)
DIFF_FORMAT = "arcp-conformance/diff-v1"
VOLATILE = frozenset({"instance", "timestamp", "request_id"})
LIMIT = 200  # longest value printed, in characters


# section key -> heading, in the order they are printed
SECTIONS = {
    "new_failures": "New failures",
    "new_warnings": "New warnings",
    "fixed": "Fixed",
    "changed_problem_types": "Changed problem types",
    "changed_responses": "Changed responses",
    "other_verdict_changes": "Other verdict changes",
    "only_in_old": "Only in old",
    "only_in_new": "Only in new",
}
FAIL_ON = ("new-failures", "any", "never")
USAGE = f"{PROG} OLD.json NEW.json [--format text|json] [--fail-on new-failures|any|never]"


class DiffError(ValueError):
    """A usage error: reported as one line, exit status 2."""


# --- inert, bounded strings

_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"          # CSI ... final byte (colours, cursor movement)
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC ... BEL or ST (window titles, hyperlinks)
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"     # DCS, SOS, PM, APC strings
    r"|\x1b[ -/]*[0-~]?"                  # any other escape sequence
    r"|\x9b[0-?]*[ -/]*[@-~]"             # 8-bit CSI
)


def clean(value: Any, limit: int = LIMIT) -> str:
    """`value` as printable text: no escape sequences or control/format characters, at most `limit` characters."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    text = _ESCAPES.sub("", text[: limit * 8])
    out = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch in "\t\n\r\v\f" or category in ("Zl", "Zp"):
            out.append(" ")
        elif category not in ("Cc", "Cf", "Cs"):  # controls, bidi overrides and other format characters, lone surrogates
            out.append(ch)
    text = "".join(out)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def slug(problem_type: str | None) -> str:
    """The last path segment of a problem type URI: dpop-binding-mismatch."""
    if problem_type is None:
        return "no problem type"
    tail = problem_type.rstrip("/").rsplit("/", 1)[-1]
    return clean(tail or problem_type, 80)


# --- input

@dataclass(frozen=True)
class Exchange:
    status: int | None
    problem_type: str | None
    problem: Any  # the problem object without its volatile members; None for a success response
    error: str | None = None


@dataclass(frozen=True)
class Check:
    id: str
    verdict: str
    message: str = ""
    exchanges: tuple[Exchange, ...] | None = None  # None: not recorded (results-v0)


@dataclass(frozen=True)
class Results:
    source: str
    format: str
    checks: dict[str, Check]
    url: str | None = None
    server_version: str | None = None
    dpop_mode: str | None = None
    dpop_mode_source: str | None = None
    tool_version: str | None = None

    @property
    def has_exchanges(self) -> bool:
        return self.format in WITH_EXCHANGES


def strip_volatile(value: Any) -> Any:
    """`value` without the members instance, timestamp and request_id, at any depth."""
    if isinstance(value, dict):
        return {k: strip_volatile(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [strip_volatile(v) for v in value]
    return value


_URL_PORT = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:'\"<>@]+):\d{1,5}(?!\d)")
# the agent ids a run makes up for itself (wire.flows.Identity.create): a new one each run
OWN_AGENT_ID = re.compile(r"\barcp-conf-([a-z0-9]+)-[0-9a-f]{10}\b")
# the key URLs a run serves on its agent endpoint (wire.agent_endpoint.AgentEndpoint.key_url): random each run
OWN_KEY_URL = re.compile(r"(/keys/)[A-Za-z0-9_-]{24}(?=\.(?:json|pem)\b)")
_NUMBER = re.compile(r"(\d+)")


def _target_pattern(url: str | None) -> re.Pattern | None:
    """The target's own origin in any scheme, with any port: how a problem's text names the server under test."""
    host = re.match(r"(?i)[a-z][a-z0-9+.-]*://([^/\s:?#]+|\[[^\]]*\])", url or "")
    return re.compile(rf"(?i)\b[a-z][a-z0-9+.-]*://{re.escape(host.group(1))}(?::\d{{1,5}})?(?!\d)") if host else None


def normalize(value: Any, target: re.Pattern | None = None) -> Any:
    """`value` without its volatile members, and in its strings the run's own target origin as <target>,
    any other URL's port as <port> (the suite's targets listen on a new port each run), the
    agent ids the run made up as arcp-conf-LABEL-<id> and its key URLs' paths as /keys/<id>."""
    value = strip_volatile(value)

    def walk(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, str):
            if target is not None:
                v = target.sub("<target>", v)
            v = OWN_KEY_URL.sub(r"\1<id>", v)
            return OWN_AGENT_ID.sub(r"arcp-conf-\1-<id>", _URL_PORT.sub(r"\1:<port>", v))
        return v

    return walk(value)


def _same_text(a: str, b: str) -> bool:
    """Equal, or equal but for integers that differ by one (the second the clocks ticked: "599 s" / "600 s")."""
    if a == b:
        return True
    pa, pb = _NUMBER.split(a), _NUMBER.split(b)
    if len(pa) != len(pb):
        return False
    for i, (x, y) in enumerate(zip(pa, pb)):
        if i % 2 == 0:
            if x != y:
                return False
        elif x != y and (len(x) > 18 or len(y) > 18 or abs(int(x) - int(y)) > 1):
            return False
    return True


def same(a: Any, b: Any) -> bool:
    """Deep equality of two normalized problems, tolerant of a one-second clock difference in their text."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, str) and isinstance(b, str):
        return _same_text(a, b)
    return type(a) is type(b) and a == b


def _current_name(verdict: str) -> str:
    """A verdict as this version names it: older results said "skip" for not applicable."""
    return NOT_APPLICABLE if verdict == LEGACY_NOT_APPLICABLE else verdict


def load(path: str | Path) -> Results:
    """Read and validate a results file (results-v2, or the older results-v1 and results-v0)."""
    name = clean(str(path), 120)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise DiffError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise DiffError(f"{name}: is a directory, not a results file") from None
    except OSError as exc:
        raise DiffError(f"{name}: cannot read ({clean(exc.strerror or exc, 80)})") from None
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise DiffError(f"{name}: not JSON (not UTF-8 text)") from None
    except RecursionError:
        raise DiffError(f"{name}: not a results file (nested too deeply)") from None
    except ValueError as exc:
        raise DiffError(f"{name}: not JSON ({clean(exc, 120)})") from None
    return parse(doc, name)


def parse(doc: Any, source: str = "results") -> Results:
    """Validate a decoded results document."""
    try:
        return _parse(doc, source)
    except RecursionError:
        raise DiffError(f"{source}: not a results file (nested too deeply)") from None


def _parse(doc: Any, source: str) -> Results:
    if not isinstance(doc, dict):
        raise DiffError(f'{source}: not a results file (expected a JSON object with "format": "{FORMAT_V2}")')
    fmt = doc.get("format")
    if fmt is None:
        raise DiffError(f'{source}: not a results file (no "format"; expected "{FORMAT_V2}")')
    if fmt not in FORMATS:
        raise DiffError(f'{source}: unsupported format "{clean(fmt, 80)}" (expected one of {" ".join(FORMATS)})')
    checks_raw = doc.get("checks")
    if not isinstance(checks_raw, list):
        raise DiffError(f'{source}: "checks" must be a list')
    if fmt in WITH_EXCHANGES:
        target = doc.get("target") if isinstance(doc.get("target"), dict) else {}
    else:  # results-v0: the target's members sit at the top level, the url under "target"
        target = {**doc, "url": doc.get("target")}
    url = target.get("url") if isinstance(target.get("url"), str) else None
    own = _target_pattern(url)
    checks: dict[str, Check] = {}
    for i, raw in enumerate(checks_raw):
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not isinstance(raw.get("verdict"), str):
            raise DiffError(f"{source}: check {i} needs a string id and a string verdict")
        cid = current_check_id(raw["id"])  # a file written before the ids were renamed compares too
        if cid in checks:
            raise DiffError(f"{source}: check id {clean(cid, 120)} appears twice")
        message = raw.get("message")
        exchanges = _exchanges(raw, source, own) if fmt in WITH_EXCHANGES else None
        checks[cid] = Check(cid, _current_name(raw["verdict"]), message if isinstance(message, str) else "", exchanges)

    tool = doc.get("tool") if isinstance(doc.get("tool"), dict) else {}

    def text(value: Any) -> str | None:
        return value if isinstance(value, str) else None

    return Results(
        source=source, format=fmt, checks=checks,
        url=url, server_version=text(target.get("server_version")),
        dpop_mode=text(target.get("dpop_mode")), dpop_mode_source=text(target.get("dpop_mode_source")),
        tool_version=text(tool.get("version")),
    )


def _exchanges(raw: dict, source: str, own: re.Pattern | None = None) -> tuple[Exchange, ...] | None:
    items = raw.get("exchanges")
    if items is None:
        return None
    where = f"{source}: check {clean(raw['id'], 120)}"
    if not isinstance(items, list):
        raise DiffError(f'{where}: "exchanges" must be a list')
    out = []
    for j, ex in enumerate(items, 1):
        if not isinstance(ex, dict):
            raise DiffError(f"{where}: exchange {j} must be an object")
        status = ex.get("status")
        if status is not None and (isinstance(status, bool) or not isinstance(status, int)):
            raise DiffError(f"{where}: exchange {j}: status must be an integer or null")
        problem = ex.get("problem")
        if "problem_type" in ex:
            ptype = ex["problem_type"]
        else:
            ptype = problem.get("type") if isinstance(problem, dict) else None
        if ptype is not None and not isinstance(ptype, str):
            raise DiffError(f"{where}: exchange {j}: problem_type must be a string or null")
        error = ex.get("error")
        # results-v1 keeps any JSON object body as "problem": a success body (tokens' fingerprints, ids,
        # expiry times) differs on every run, so only error responses and typed problems are compared
        if ptype is None and (status is None or status < 400):
            problem = None
        out.append(Exchange(status, ptype, normalize(problem, own), error if isinstance(error, str) else None))
    return tuple(out)


# --- comparison

@dataclass
class Entry:
    id: str
    old: str | None  # verdict on each side; None when the check is only on the other side
    new: str | None
    reason: str = ""
    extra: dict = field(default_factory=dict)  # section-specific members of the JSON output


@dataclass
class Diff:
    old: Results
    new: Results
    sections: dict[str, list[Entry]]
    warnings: list[str]
    notes: list[str]

    def counts(self) -> dict[str, int]:
        return {key: len(entries) for key, entries in self.sections.items()}

    def fails(self, fail_on: str) -> bool:
        if fail_on == "never":
            return False
        if fail_on == "any":
            return any(self.sections.values())
        return bool(self.sections["new_failures"])


def _shape(exchanges: tuple[Exchange, ...]) -> tuple[tuple[int | None, str | None], ...]:
    return tuple((ex.status, ex.problem_type) for ex in exchanges)


def describe(exchanges: tuple[Exchange, ...]) -> str:
    """The exchanges as status and type slug: 401 dpop-binding-mismatch, 200 no problem type."""
    if not exchanges:
        return "no exchanges"
    parts = []
    for ex in exchanges:
        if ex.status is None:
            error = clean((ex.error or "").split(":", 1)[0], 40)
            parts.append(f"no response ({error})" if error else "no response")
        else:
            parts.append(f"{ex.status} {slug(ex.problem_type)}")
    return clean(", ".join(parts), LIMIT)


_MISSING = object()


def _value(value: Any) -> str:
    return clean(json.dumps(value, ensure_ascii=False), 60)


def response_changes(old: tuple[Exchange, ...], new: tuple[Exchange, ...]) -> list[dict]:
    """Per exchange, the problem members that differ (volatile members already dropped)."""
    changes = []
    for j, (a, b) in enumerate(zip(old, new), 1):
        if same(a.problem, b.problem):
            continue
        if not isinstance(a.problem, dict) or not isinstance(b.problem, dict):
            changes.append({"exchange": j, "members": [], "summary": "problem body " + ("absent" if a.problem is None else "present")
                            + " -> " + ("absent" if b.problem is None else "present")})
            continue
        members = sorted(k for k in a.problem.keys() | b.problem.keys()
                         if k not in a.problem or k not in b.problem or not same(a.problem[k], b.problem[k]))
        parts = []
        for k in members:
            before, after = a.problem.get(k, _MISSING), b.problem.get(k, _MISSING)
            if before is _MISSING:
                parts.append(f"{clean(k, 40)} added")
            elif after is _MISSING:
                parts.append(f"{clean(k, 40)} removed")
            elif isinstance(before, (dict, list)) or isinstance(after, (dict, list)):
                parts.append(f"{clean(k, 40)} changed")
            else:
                parts.append(f"{clean(k, 40)}: {_value(before)} -> {_value(after)}")
        changes.append({"exchange": j, "members": [clean(k, 40) for k in members], "summary": "; ".join(parts)})
    return changes


def _verdict_reason(old: Check, new: Check) -> tuple[str, str]:
    """The section of a verdict change, and a short reason."""
    ov, nv = old.verdict, new.verdict
    if nv in (FAIL, STALE):
        return "new_failures", new.message
    if nv == WARN:
        return "new_warnings", new.message
    if nv == PASS and ov in (FAIL, WARN, BASELINED, STALE):
        return "fixed", f"was: {old.message}" if old.message else ""
    notes = []
    if INCONCLUSIVE in (ov, nv):
        notes.append("inconclusive says nothing about the server")
    elif nv == NOT_APPLICABLE:
        notes.append("not applicable")
    elif nv == BASELINED:
        notes.append("accepted in the baseline")
    if new.message:
        notes.append(new.message)
    return "other_verdict_changes", ": ".join(notes)


def compare(old: Results, new: Results) -> Diff:
    sections: dict[str, list[Entry]] = {key: [] for key in SECTIONS}
    for cid in sorted(old.checks.keys() | new.checks.keys()):
        o, n = old.checks.get(cid), new.checks.get(cid)
        if n is None:
            sections["only_in_old"].append(Entry(cid, o.verdict, None, o.message))
            continue
        if o is None:
            sections["only_in_new"].append(Entry(cid, None, n.verdict, n.message))
            continue
        if o.verdict != n.verdict:
            key, reason = _verdict_reason(o, n)
            sections[key].append(Entry(cid, o.verdict, n.verdict, reason))
        if o.exchanges is None or n.exchanges is None:
            continue
        if _shape(o.exchanges) != _shape(n.exchanges):
            sections["changed_problem_types"].append(Entry(
                cid, o.verdict, n.verdict, f"{describe(o.exchanges)} -> {describe(n.exchanges)}",
                {"old_exchanges": [_exchange_json(ex) for ex in o.exchanges[:20]],
                 "new_exchanges": [_exchange_json(ex) for ex in n.exchanges[:20]]},
            ))
            continue
        changes = response_changes(o.exchanges, n.exchanges)
        if changes:
            reason = "; ".join(
                (f"exchange {c['exchange']}: " if len(o.exchanges) > 1 else "") + c["summary"] for c in changes
            )
            sections["changed_responses"].append(Entry(
                cid, o.verdict, n.verdict, f"{describe(n.exchanges)}: {reason}",
                {"changes": [{"exchange": c["exchange"], "members": c["members"]} for c in changes[:20]]},
            ))
    return Diff(old, new, sections, _warnings(old, new), _notes(old, new))


def _exchange_json(ex: Exchange) -> dict:
    return {"status": ex.status, "problem_type": clean(ex.problem_type) if ex.problem_type is not None else None}


def _warnings(old: Results, new: Results) -> list[str]:
    if old.dpop_mode and new.dpop_mode and old.dpop_mode != new.dpop_mode:
        return [f"DPoP modes differ ({clean(old.dpop_mode, 40)} -> {clean(new.dpop_mode, 40)}): many checks exist in one mode"
                " only or judge differently, so entries only on one side and verdict changes may come from the mode,"
                " not from the server"]
    return []


def _notes(old: Results, new: Results) -> list[str]:
    notes = []
    v0 = [side for side, r in (("old", old), ("new", new)) if not r.has_exchanges]
    if v0:
        which = "both files are" if len(v0) == 2 else f"the {v0[0]} file is"
        notes.append(f"{which} {FORMAT_V0} (no exchanges recorded): problem types and responses are not compared")
    if old.tool_version and new.tool_version and old.tool_version != new.tool_version:
        notes.append(f"suite versions differ ({clean(old.tool_version, 40)} -> {clean(new.tool_version, 40)}):"
                     " checks only on one side may come from the suite")
    return notes


# --- output

def _side(r: Results) -> str:
    mode = clean(r.dpop_mode, 40) or "unknown"
    if r.dpop_mode_source:
        mode += f", mode {clean(r.dpop_mode_source, 20)}"
    return (f"{clean(r.url, 120) or 'unknown target'} (server {clean(r.server_version, 60) or 'unknown version'},"
            f" DPoP {mode}) [{clean(r.source, 120)}]")


def summary(diff: Diff) -> str:
    return "summary: " + ", ".join(f"{SECTIONS[key].lower()} {n}" for key, n in diff.counts().items())


def render_text(diff: Diff) -> str:
    lines = [f"arcp-conformance diff: old {_side(diff.old)} -> new {_side(diff.new)}"]
    lines += [f"warning: {w}" for w in diff.warnings]
    lines += [f"note: {n}" for n in diff.notes]
    if not any(diff.sections.values()):
        lines += ["", "no changes"]
    for key, entries in diff.sections.items():
        if not entries:
            continue
        lines += ["", f"{SECTIONS[key]} ({len(entries)}):"]
        for e in entries:
            if key == "only_in_old":
                verdicts = clean(e.old, 20)
            elif key == "only_in_new":
                verdicts = clean(e.new, 20)
            else:
                verdicts = f"{clean(e.old, 20)} -> {clean(e.new, 20)}"
            reason = clean(e.reason, 2 * LIMIT)
            lines.append(f"  {clean(e.id)}  {verdicts}" + (f"  {reason}" if reason else ""))
    lines += ["", summary(diff)]
    return "\n".join(lines) + "\n"


def to_json(diff: Diff, fail_on: str = "new-failures") -> dict:
    def side(r: Results) -> dict:
        return {"file": clean(r.source), "format": r.format, "url": clean(r.url) or None,
                "server_version": clean(r.server_version) or None, "dpop_mode": clean(r.dpop_mode) or None,
                "dpop_mode_source": clean(r.dpop_mode_source) or None, "tool_version": clean(r.tool_version) or None}

    def entry(e: Entry) -> dict:
        return {"id": clean(e.id), "old_verdict": clean(e.old, 20) if e.old is not None else None,
                "new_verdict": clean(e.new, 20) if e.new is not None else None,
                "reason": clean(e.reason, 2 * LIMIT), **e.extra}

    return {
        "format": DIFF_FORMAT,
        "old": side(diff.old), "new": side(diff.new),
        "warnings": diff.warnings, "notes": diff.notes,
        **{key: [entry(e) for e in entries] for key, entries in diff.sections.items()},
        "counts": diff.counts(),
        "fail_on": fail_on, "failed": diff.fails(fail_on),
    }


def render_json(diff: Diff, fail_on: str = "new-failures") -> str:
    return json.dumps(to_json(diff, fail_on), indent=1) + "\n"  # ensure_ascii: the output is plain ASCII


# --- command line

class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + message
        raise DiffError(f"{message} (usage: {USAGE})")


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        description="Compare two arcp-conformance results files (two runs, or two servers): new failures,"
                    " fixed checks, changed problem types. Instance, timestamp and request_id never count.",
        epilog="Exit status: 0 when the --fail-on condition does not hold, 1 when it does, 2 for a usage error.",
    )
    p.add_argument("old", metavar="OLD.json", help="the earlier (or reference) results file")
    p.add_argument("new", metavar="NEW.json", help="the later (or other server's) results file")
    p.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or a JSON object")
    p.add_argument("--fail-on", choices=FAIL_ON, default="new-failures",
                   help="exit 1 when there are new failures (default), on any difference, or never")
    return p


def _write(stream: Any, text: str) -> None:
    encoding = getattr(stream, "encoding", None) or "utf-8"
    stream.write(text.encode(encoding, "replace").decode(encoding, "replace"))
    stream.flush()


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
        diff = compare(load(args.old), load(args.new))
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    except DiffError as exc:
        _write(sys.stderr, f"{PROG}: error: {exc}\n")
        return 2
    except RecursionError:
        _write(sys.stderr, f"{PROG}: error: a results file is nested too deeply\n")
        return 2
    _write(sys.stdout, render_json(diff, args.fail_on) if args.format == "json" else render_text(diff))
    return 1 if diff.fails(args.fail_on) else 0


if __name__ == "__main__":
    sys.exit(main())
