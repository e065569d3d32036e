"""Run the reproducers a results file printed, exactly as printed, and check that each shows the
same failure again (issue 4: "the reproducer printed for a failure, run as printed, shows the
same failure").

    python scripts/check_reproducers.py RESULTS.json [--max N]

With --fuzz ID, a fuzz check must have failed with a one-defect minimal example that its
printed command reproduces. For up to N failed (or baselined) MUST checks of different kinds, it runs the printed command
in a scratch folder (the target must still be up, and the environment must hold the secrets
the reproducer names, as for the run) and the printed Python snippet. Exit 1 if one does not
reproduce, 2 if there is nothing to reproduce.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

FAILED = ("fail", "baselined", "stale")


def kind(check: dict) -> str:
    case = check["case"]
    if case is None:
        return "issuance"
    return "outcome" if check["requirement"].startswith(("DPOP-", "BIND-", "JWS-")) else "response"


def pick(doc: dict, limit: int) -> list[dict]:
    """One failed MUST check per kind (issuance, outcome at an endpoint, problem response), then more."""
    # fuzz and stateful checks have no Python reproducer (their command re-sends the same examples)
    failed = [c for c in doc["checks"] if c["verdict"] in FAILED and c["level"] == "MUST" and c["reproducer"]
              and not c["subject"].startswith(("fuzz:", "stateful"))]
    chosen, kinds = [], set()
    for check in failed:
        if kind(check) not in kinds:
            chosen.append(check)
            kinds.add(kind(check))
    chosen += [c for c in failed if c not in chosen]
    return chosen[:limit]


def rerun(check: dict, workdir: Path, results_dir: Path) -> list[str]:
    problems = []
    command = check["reproducer"]["command"]
    proc = subprocess.run(["bash", "-c", command], cwd=workdir, capture_output=True, text=True, timeout=300)
    results = workdir / "reports" / "conformance.json"
    verdicts = [(c["id"], c["verdict"]) for c in json.loads(results.read_text())["checks"]] if results.exists() else None
    if proc.returncode != 1 or verdicts != [(check["id"], "fail")]:
        problems.append(f"command: exit {proc.returncode}, verdicts {verdicts}; {proc.stdout[-600:]}{proc.stderr[-600:]}")
    file = check["reproducer"].get("python_file")
    if file and (results_dir / file).is_file():
        path = results_dir / file  # run where the report put it
        proc = subprocess.run([sys.executable, str(path)], cwd=workdir, capture_output=True, text=True, timeout=300)
        if proc.returncode != 1 or "REPRODUCED" not in proc.stdout:
            problems.append(f"python snippet: exit {proc.returncode}; {proc.stdout[-800:]}{proc.stderr[-800:]}")
    else:
        problems.append(f"no python reproducer file ({file})")
    return problems


def fuzz_finding(doc: dict, check_id: str, workdir: Path) -> list[str]:
    """A fuzz check must have failed, shrunk to a one-defect example, and its printed command
    (the same seed and budget) must fail it again."""
    check = next((c for c in doc["checks"] if c["id"] == check_id), None)
    if check is None or check["verdict"] not in FAILED:
        return [f"not found: verdict {check and check['verdict']}"]
    example = ((doc.get("fuzz") or {}).get("properties", {}).get(check_id) or {}).get("minimal_example")
    problems = []
    if not example or len(example["defects"]) + len(example["perturbations"]) != 1:
        problems.append(f"not shrunk to one defect: {example}")
    proc = subprocess.run(["bash", "-c", check["reproducer"]["command"]], cwd=workdir, capture_output=True, text=True, timeout=300)
    results = workdir / "reports" / "conformance.json"
    verdicts = [(c["id"], c["verdict"]) for c in json.loads(results.read_text())["checks"]] if results.exists() else None
    if proc.returncode != 1 or verdicts != [(check_id, "fail")]:
        problems.append(f"command: exit {proc.returncode}, verdicts {verdicts}; {proc.stdout[-600:]}{proc.stderr[-600:]}")
    print(f"{'ok  ' if not problems else 'FAIL'} fuzz finding {check_id}: {example and example['defects']}; {check['reproducer']['command']}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--max", type=int, default=3)
    parser.add_argument("--fuzz", action="append", default=[], metavar="CHECK_ID",
                        help="also require this fuzz check to have failed with a one-defect example that its command reproduces")
    args = parser.parse_args(argv)
    doc = json.loads(args.results.read_text(encoding="utf-8"))
    fuzz_bad = 0
    for check_id in args.fuzz:
        with tempfile.TemporaryDirectory(prefix="arcp-repro-") as tmp:
            problems = fuzz_finding(doc, check_id, Path(tmp))
        for line in problems:
            print(f"     {line}")
        fuzz_bad += bool(problems)
    checks = pick(doc, args.max)
    if not checks and args.max > 0:
        print(f"{args.results}: no failed MUST check to reproduce")
        return 2
    bad = 0
    for check in checks:
        with tempfile.TemporaryDirectory(prefix="arcp-repro-") as tmp:
            problems = rerun(check, Path(tmp), args.results.resolve().parent)
        print(f"{'ok  ' if not problems else 'FAIL'} reproducer of {check['id']}: {check['reproducer']['command']}")
        for line in problems:
            print(f"     {line}")
        bad += bool(problems)
    return 1 if bad or fuzz_bad else 0


if __name__ == "__main__":
    sys.exit(main())
