"""Run the suite N times against each target and report everything that changed between runs
(issues 5 and 6: a verdict must not depend on luck, and a seed must fix the fuzzers).

    python scripts/determinism.py [--runs N] [--out DIR] TARGET... [-- PYTEST ARGS]

TARGET is what --target-url takes (model:required, or an http URL with the secrets in the
ARCP_CONFORMANCE_* environment). Compared between runs: every check's verdict and, for the fuzz
and stateful checks, their messages (the minimal examples and sequences); the fuzzers' examples
(`fuzz.examples_digest`) and the state machine's steps (`stateful.steps_digest`). Arguments after
`--` go to every pytest run (e.g. `--check '*@fuzz:*'`). Exit 1 if anything changed, 2 if a run
produced no results.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

from conformance.report.diff import OWN_AGENT_ID, OWN_KEY_URL

# volatile parts of a message: a run's own port, clock seconds, token hashes, and the agent ids and key URLs
# each run makes up (the diff command's pattern of them)
_VOLATILE = re.compile(rf"127\.0\.0\.1:\d+|\b\d+(\.\d+)? s\b|sha256:[0-9a-f]{{12}}|{OWN_AGENT_ID.pattern}|{OWN_KEY_URL.pattern}")


def run_once(target: str, out: Path, extra: list[str]) -> dict | None:
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:warnings", "-p", "no:cacheprovider", "--target-url", target,
         "--conformance-json", str(out), "--junitxml", str(out.with_suffix(".xml")), "--conformance-html", str(out.with_suffix(".html")),
         *extra],
        capture_output=True, text=True, timeout=1800,
    )
    return json.loads(out.read_text(encoding="utf-8")) if out.exists() else None


def fingerprint(doc: dict) -> dict[str, str]:
    """What must be equal between two runs with the same seed, as `name -> value`."""
    out = {}
    for check in doc["checks"]:
        out[check["id"]] = check["verdict"]
        if check["subject"].startswith(("fuzz:", "stateful")):
            out[check["id"] + " message"] = _VOLATILE.sub("_", check["message"])
    if doc.get("fuzz"):
        out["fuzz examples"] = doc["fuzz"]["examples_digest"]
    if doc.get("stateful"):
        out["stateful steps"] = doc["stateful"].get("steps_digest", "")
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="+")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("reports/determinism"))
    args = parser.parse_args(argv)
    changed = 0
    for target in args.targets:
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", target)
        docs = [run_once(target, args.out / f"{name}-{i}.json", extra) for i in range(1, args.runs + 1)]
        if any(d is None for d in docs):
            print(f"{target}: a run wrote no results")
            return 2
        runs = [fingerprint(d) for d in docs]
        first = runs[0]
        flips: dict[str, list[str]] = {}
        for i, later in enumerate(runs[1:], start=2):
            for key in sorted(set(first) | set(later)):
                if first.get(key) != later.get(key):
                    flips.setdefault(key, []).append(f"run 1 {first.get(key)!r} / run {i} {later.get(key)!r}")
        checks = sum(1 for k in first if not k.endswith((" message", " examples", " steps")))
        print(f"{target}: {args.runs} runs, {checks} checks, {len(flips)} difference(s)")
        for key, what in sorted(flips.items())[:30]:
            print(f"  {key}: {'; '.join(what)[:400]}")
        changed += len(flips)
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
