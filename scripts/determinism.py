"""Run the suite N times against each target and report every check whose verdict changed
between runs (issue 6: a verdict must not depend on luck).

    python scripts/determinism.py [--runs N] [--out DIR] TARGET...   # e.g. model:required model:optional

TARGET is what --target-url takes. Exit 1 if any verdict changed, 2 if a run produced no results.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path


def run_once(target: str, out: Path) -> dict[str, str] | None:
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:warnings", "-p", "no:cacheprovider", "--target-url", target,
         "--conformance-json", str(out), "--junitxml", str(out.with_suffix(".xml")), "--html", str(out.with_suffix(".html"))],
        capture_output=True, text=True, timeout=900,
    )
    if not out.exists():
        return None
    return {c["id"]: c["verdict"] for c in json.loads(out.read_text(encoding="utf-8"))["checks"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="+")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("reports/determinism"))
    args = parser.parse_args(argv)
    changed = 0
    for target in args.targets:
        name = target.replace(":", "-").replace("/", "_")
        runs = [run_once(target, args.out / f"{name}-{i}.json") for i in range(1, args.runs + 1)]
        if any(r is None for r in runs):
            print(f"{target}: a run wrote no results")
            return 2
        first = runs[0]
        flips = {}
        for i, later in enumerate(runs[1:], start=2):
            for check_id in sorted(set(first) | set(later)):
                if first.get(check_id) != later.get(check_id):
                    flips.setdefault(check_id, []).append(f"run 1 {first.get(check_id)} / run {i} {later.get(check_id)}")
        print(f"{target}: {args.runs} runs, {len(first)} checks, {len(flips)} verdict(s) changed")
        for check_id, what in sorted(flips.items())[:30]:
            print(f"  {check_id}: {'; '.join(what)}")
        changed += len(flips)
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
