"""Validate the suite's machine-readable outputs: results JSON files against the published
schemas/results.schema.json, JUnit XML files against the JUnit schema (tests/support/data/junit-10.xsd).

    python scripts/validate_outputs.py FILE...    # *.json and *.xml; exit 1 if one is invalid
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import xmlschema

from conformance.report.results import schema_errors

JUNIT_XSD = Path(__file__).resolve().parent.parent / "tests" / "support" / "data" / "junit-10.xsd"


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: validate_outputs.py FILE...", file=sys.stderr)
        return 2
    junit = xmlschema.XMLSchema(JUNIT_XSD)
    bad = 0
    for name in argv:
        path = Path(name)
        if path.suffix == ".json":
            errors = schema_errors(json.loads(path.read_text(encoding="utf-8")))
        else:
            errors = [str(e.reason or e)[:300] for e in junit.iter_errors(str(path))]
        print(f"{'valid  ' if not errors else 'INVALID'} {path}" + "".join(f"\n  {e}" for e in errors[:5]))
        bad += bool(errors)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
