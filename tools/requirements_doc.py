"""The requirements document (docs/requirements.md), generated from the catalogue: for each
requirement its id, level, profile section, statement and linked sources, the checks and judges
that judge it, where the package names it, and which model faults break it.

    python -m tools.requirements_doc            # write docs/requirements.md
    python -m tools.requirements_doc --check    # exit 1 if it is not what the catalogue gives

tests/unit/test_requirements_doc.py fails when the committed document is stale.
"""
from __future__ import annotations

import re
import sys
from collections import defaultdict

from conformance.judging.case_judges import CASE_JUDGES
from conformance.judging.issuance_judges import ISSUANCE_JUDGES
from conformance.judging.judge_check import EXPLORATIONS, known_checks
from conformance.model_target import FAULTS
from conformance.report.requirements_doc import DOC, anchor
from conformance.spec.catalogue import PACKAGE, ROOT, Requirement, renamed_requirements, requirements, source_links
from conformance.spec.vocabulary import LEVELS, MODES

TOPICS = {  # id prefix -> what the requirements of that topic are about
    "ISSUE": "What the target issues: tokens and their binding, claims, lifetimes and single use (phases 1 to 3)",
    "PROOF": "DPoP proofs: what a receiving server must refuse or accept (RFC 9449 §4.3, replay, crit)",
    "BIND": "Token × proof: bound, unbound and legacy tokens with and without proofs, per DPoP mode",
    "TOKEN": "Tokens that are not what the target signed, missing, or presented outside their phase",
    "PROBLEM": "Error responses as problem details (RFC 9457 and the ARCP problem catalogue)",
    "CHALLENGE": "WWW-Authenticate challenges on 401 responses (RFC 9110, RFC 9449 §7.1)",
}
SHOWN_SITUATIONS = 6  # a requirement judged on more situations than this lists the first ones and a count

HEADER = """# ARCP conformance requirements

<!-- generated from vectors/requirements.json by `python -m tools.requirements_doc`: do not edit by hand -->

Every check of arcp-conformance judges one requirement of this list. A requirement has an id
(`TOPIC-what`), a level, the section of the **ARCP DPoP conformance profile** it comes from
(the project's contract: what ARCP servers must do, written from the ARCP documentation and the
RFCs; cited here as §N), the source clause it rests on (ARCP docs and RFC sections, linked), and
a one-line statement.

| level | a violation is | effect on the run |
|---|---|---|
| MUST | a failure | fails the run (exit 1) |
| SHOULD | a warning | fails the run only with `--conformance-strict` |
| MAY | information | never fails |

A check's id is `REQUIREMENT@SUBJECT`: the subject is a situation `endpoint:token:proof`
(`validate` is phase 2, `register` phase 3), a malformed request `malformed:endpoint:variant`
(a body variant, or a junk Authorization header `auth-...`), a step of the registration flow (`phase1`, `temp`,
`poll`, `validated`, `register`, `access`), the flow of one proof algorithm (`alg:ES384`), the fuzz run (`fuzz:validate`) or the state machine
(`stateful`). Each requirement below names the checks that judge it, the judge (a function of
`conformance/judging/`) or the expectation (`conformance/spec/`) that decides, and the faults of
the embedded model server (`--target-url model:MODE:FAULT`) that break it; `grep -rn ID` in a
clone finds the same. `arcp-conformance requirements ID` prints one entry.
"""


def _linked_source(source: str) -> str:
    out, pos = [], 0
    for start, end, url in source_links(source):
        out.append(source[pos:start])
        out.append(f"[{source[start:end]}]({url})")
        pos = end
    out.append(source[pos:])
    return "".join(out)


def _named_in(req_id: str) -> list[str]:
    """The package's modules that name the id (its judge, expectation or check list)."""
    quoted = re.compile(rf"""["']{re.escape(req_id)}["']""")
    return sorted(str(path.relative_to(ROOT)) for path in PACKAGE.rglob("*.py")
                  if "model_target" not in path.parts and quoted.search(path.read_text(encoding="utf-8")))


def _modes(modes: set[str]) -> str:
    return ", ".join(m for m in MODES if m in modes)


def _checks_text(req_id: str) -> list[str]:
    """Lines naming the checks of a requirement: per judge, its subjects and the modes that have them."""
    by_judge: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for mode in MODES:
        for check in known_checks(mode):
            if check.requirement_id == req_id:
                by_judge[check.judge][check.subject].add(mode)
    lines = []
    for judge, subjects in sorted(by_judge.items()):
        if judge in EXPLORATIONS:
            subject, modes = next(iter(subjects.items()))
            what = "the fuzz run's property" if judge == "fuzz" else "an invariant of the state machine"
            lines.append(f"- `{req_id}@{subject}`, {what} ({_modes(modes)}); judged in `conformance/judging/{'fuzz.py' if judge == 'fuzz' else 'stateful/'}`")
            continue
        function = CASE_JUDGES.get(judge) or ISSUANCE_JUDGES.get(judge)
        where = function.__module__.removeprefix("conformance.judging.").replace(".", "/") + ".py"
        doc = (function.__doc__ or "").strip().splitlines()[0]
        names = list(subjects)  # in the order the checks run: phase 2, phase 3, then the operations
        shown = ", ".join(f"`@{s}` ({_modes(subjects[s])})" for s in names[:SHOWN_SITUATIONS])
        more = f" and {len(names) - SHOWN_SITUATIONS} more situations" if len(names) > SHOWN_SITUATIONS else ""
        lines.append(f"- judge `{judge}` (`conformance/judging/{where}`): {doc} On {shown}{more}.")
    return lines


def _faults_text(req_id: str) -> str:
    faults = []
    for name, fault in sorted(FAULTS.items()):
        kinds = [k for k, reqs in (("fixed", fault.breaks), ("fuzz", fault.fuzz), ("stateful", fault.stateful)) if req_id in reqs]
        if kinds:
            faults.append(f"`{name}` ({_modes(set(fault.modes))}; {', '.join(kinds)} checks)")
    return ", ".join(faults) if faults else "none"


def _entry(req: Requirement, old_ids: dict[str, list[str]]) -> list[str]:
    lines = [f'### <a id="{anchor(req.id)}"></a>{req.id}', "",
             f"**{req.level}** · profile {req.profile} · {_linked_source(req.source)}", "", req.statement, ""]
    lines += _checks_text(req.id)
    named = _named_in(req.id)
    lines.append(f"- named in: {', '.join(f'`{p}`' for p in named) if named else '(only the catalogue)'}")
    lines.append(f"- broken by the model faults: {_faults_text(req.id)}")
    if old_ids.get(req.id):
        lines.append(f"- formerly: {', '.join(f'`{o}`' for o in old_ids[req.id])} (results and baselines with the old id still read)")
    lines.append("")
    return lines


def render() -> str:
    reqs = requirements()
    old_ids: dict[str, list[str]] = defaultdict(list)
    for old, new in renamed_requirements().items():
        old_ids[new].append(old)
    lines = [HEADER, "## Index", "", "| id | level | profile | statement |", "|---|---|---|---|"]
    order = sorted(reqs.values(), key=lambda r: (list(TOPICS).index(r.id.split("-")[0]), LEVELS.index(r.level), r.id))
    lines += [f"| [{r.id}](#{anchor(r.id)}) | {r.level} | {r.profile} | {r.statement} |" for r in order]
    lines.append("")
    for topic, about in TOPICS.items():
        lines += [f"## {topic}: {about}", ""]
        for req in (r for r in order if r.id.split("-")[0] == topic):
            lines += _entry(req, old_ids)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if argv[:1] == ["--check"]:
        current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
        if current != text:
            print(f"{DOC.relative_to(ROOT)} is stale: run python -m tools.requirements_doc", file=sys.stderr)
            return 1
        return 0
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)} ({len(requirements())} requirements)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
