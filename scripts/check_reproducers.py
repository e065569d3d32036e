"""Run the reproducers a results file printed, exactly as printed, and check that each shows the
same failure again (issue 4: "the reproducer printed for a failure, run as printed, shows the
same failure"; issue 13: the reproducer is a plan run by the package's own code).

    python scripts/check_reproducers.py RESULTS.json [--max N] [--fuzz CHECK_ID ...]

Run it from the folder the suite ran in (the printed commands name the plans relative to it),
while the target is still up and the environment holds the secrets the reproducers name, as for
the run. For up to N failed (or baselined) MUST checks of different kinds it runs the printed
command (`arcp-conformance reproduce PLAN`: exit 1 with REPRODUCED) and the suite command
(`pytest ... --check ID` in a scratch folder: exit 1, that check failed). With --fuzz ID, a fuzz
check must have failed with a one-defect minimal example that both its commands find again.
Exit 1 if one does not reproduce, 2 if there is nothing to reproduce.
"""
from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FAILED = ("fail", "baselined", "stale")


def kind(check: dict) -> str:
    case = check["case"]
    if case is None:
        return "issuance"
    return "outcome" if check["requirement"].startswith(("PROOF-", "BIND-", "TOKEN-")) else "response"


def pick(doc: dict, limit: int) -> list[dict]:
    """One failed MUST check per kind (issuance, outcome at an endpoint, problem response), then more."""
    # fuzz and stateful checks are asked for by name (--fuzz): their reproducers re-run a search
    failed = [c for c in doc["checks"] if c["verdict"] in FAILED and c["level"] == "MUST" and c["reproducer"]
              and not c["subject"].startswith(("fuzz:", "stateful"))]
    chosen, kinds = [], set()
    for check in failed:
        if kind(check) not in kinds:
            chosen.append(check)
            kinds.add(kind(check))
    chosen += [c for c in failed if c not in chosen]
    return chosen[:limit]


def _tool(argv: list[str]) -> list[str]:
    """A printed command as a runner runs it: its program from PATH, else the one beside this Python."""
    if shutil.which(argv[0]) is None and (Path(sys.executable).parent / argv[0]).exists():
        return [str(Path(sys.executable).parent / argv[0]), *argv[1:]]
    return argv


def run_suite_command(check: dict, workdir: Path) -> list[str]:
    """The suite command in a scratch folder: exit 1, and that one check failed."""
    proc = subprocess.run(["bash", "-c", check["reproducer"]["suite_command"]], cwd=workdir, capture_output=True, text=True, timeout=600)
    results = workdir / "reports" / "conformance.json"
    verdicts = [(c["id"], c["verdict"]) for c in json.loads(results.read_text())["checks"]] if results.exists() else None
    if proc.returncode != 1 or verdicts != [(check["id"], "fail")]:
        return [f"suite command: exit {proc.returncode}, verdicts {verdicts}; {proc.stdout[-600:]}{proc.stderr[-600:]}"]
    return []


def run_reproducer(check: dict) -> list[str]:
    """The printed command, from where the suite ran: exit 1 with REPRODUCED."""
    rep = check["reproducer"]
    if not rep.get("plan_file"):
        return [f"no reproducer plan ({rep.get('plan_error') or 'none written'})"]
    proc = subprocess.run(_tool(shlex.split(rep["command"])), capture_output=True, text=True, timeout=900)
    if proc.returncode != 1 or f"REPRODUCED: {check['id']}" not in proc.stdout:
        return [f"reproducer: exit {proc.returncode}; {proc.stdout[-1200:]}{proc.stderr[-800:]}"]
    return []


def fuzz_finding(doc: dict, check_id: str) -> list[str]:
    """A fuzz check must have failed, shrunk to a one-defect example, and both its commands (the
    same seed and budget) must find it again."""
    check = next((c for c in doc["checks"] if c["id"] == check_id), None)
    if check is None or check["verdict"] not in FAILED:
        return [f"not found: verdict {check and check['verdict']}"]
    example = ((doc.get("fuzz") or {}).get("properties", {}).get(check_id) or {}).get("minimal_example")
    problems = []
    if not example or len(example["defects"]) + len(example["perturbations"]) != 1:
        problems.append(f"not shrunk to one defect: {example}")
    with tempfile.TemporaryDirectory(prefix="arcp-repro-") as tmp:
        problems += run_suite_command(check, Path(tmp))
    problems += run_reproducer(check)
    print(f"{'ok  ' if not problems else 'FAIL'} fuzz finding {check_id}: {example and example['defects']}; {check['reproducer']['command']}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--max", type=int, default=3)
    parser.add_argument("--fuzz", action="append", default=[], metavar="CHECK_ID",
                        help="also require this fuzz check to have failed with a one-defect example that its commands reproduce")
    args = parser.parse_args(argv)
    doc = json.loads(args.results.read_text(encoding="utf-8"))
    bad = 0
    for check_id in args.fuzz:
        problems = fuzz_finding(doc, check_id)
        for line in problems:
            print(f"     {line}")
        bad += bool(problems)
    checks = pick(doc, args.max)
    if not checks and args.max > 0:
        print(f"{args.results}: no failed MUST check to reproduce")
        return 2
    for check in checks:
        with tempfile.TemporaryDirectory(prefix="arcp-repro-") as tmp:
            problems = run_suite_command(check, Path(tmp)) + run_reproducer(check)
        print(f"{'ok  ' if not problems else 'FAIL'} reproducer of {check['id']}: {check['reproducer']['command']}")
        for line in problems:
            print(f"     {line}")
        bad += bool(problems)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
