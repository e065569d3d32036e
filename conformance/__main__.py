"""The arcp-conformance command: `arcp-conformance reproduce PLAN`, `arcp-conformance requirements [ID]`
and `arcp-conformance summary [RESULTS.json] [--markdown]` (or python -m conformance ...).

The suite itself runs under pytest (`pytest --target-url URL`); the diff of two results files is
`arcp-conformance-diff`.
"""
from __future__ import annotations

import sys

COMMANDS = {
    "reproduce": "re-enact a check from the plan a run wrote, and print what was sent and answered",
    "requirements": "print the requirements document, or the entries of the ids (or check ids) given",
    "summary": "print a run's failures, warnings and verdict line from its results document (--markdown for a CI job summary)",
}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in COMMANDS:
        lines = ["usage: arcp-conformance COMMAND ...", "commands:"] + [f"  {name:10} {what}" for name, what in COMMANDS.items()]
        wanted = args[:1] in (["-h"], ["--help"])
        print("\n".join(lines), file=sys.stdout if wanted else sys.stderr)
        return 0 if wanted else 2
    if args[0] == "requirements":
        from .report import requirements_doc

        return requirements_doc.main(args[1:])
    if args[0] == "summary":
        from .report import job_summary

        return job_summary.main(args[1:])
    from .report import reproduce

    return reproduce.main(args[1:])


if __name__ == "__main__":
    sys.exit(main())
