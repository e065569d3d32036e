"""The suite's words, defined once: DPoP modes, requirement levels and verdicts."""
from __future__ import annotations

from dataclasses import dataclass

# --- DPoP modes (the profile's §6): a target is in one of them; `auto` asks the suite to detect it
MODES = ("required", "optional", "disabled")
DPOP_MODES = ("required", "optional")  # the modes in which proofs are checked at all
AUTO = "auto"
MODE_CHOICES = (*MODES, AUTO)

# --- exit codes of a run besides pytest's own (0 conformant, 1 a MUST broken)
USAGE_ERROR = 2  # the suite's options are wrong (pytest itself says 4 for its own option errors)
NO_VERDICT = 3  # the target could not be used, nothing was judged, the run was cut short, or it is incomplete

# --- requirement levels (the profile's §2): what breaking one means
MUST, SHOULD, MAY = "MUST", "SHOULD", "MAY"
LEVELS = (MUST, SHOULD, MAY)

# --- verdicts of one check
PASS = "pass"  # the requirement held
FAIL = "fail"  # a MUST broken
WARN = "warn"  # a SHOULD broken
INFO = "info"  # a MAY not met
INCONCLUSIVE = "inconclusive"  # the situation could not be set up, or its positive control failed
# The check does not apply: a conformant target cannot be put in the situation (in required mode
# it issues no unbound token; it gives no DPoP-Nonce; it lacks the operation), or this response
# is another check's to report. Never counted as judged. Results before it was named said "skip".
NOT_APPLICABLE = "not-applicable"
LEGACY_NOT_APPLICABLE = "skip"  # its name in older results documents
# ... and what a baseline makes of them
BASELINED = "baselined"  # a listed deviation: does not fail the run
STALE = "stale"  # a listed deviation that is gone, or an expired entry: fails the run

VERDICTS = (PASS, FAIL, WARN, INFO, INCONCLUSIVE, NOT_APPLICABLE, BASELINED, STALE)
# Most telling first: a requirement's verdict is the first of these any of its checks has.
VERDICT_ORDER = (STALE, FAIL, WARN, BASELINED, INFO, PASS, INCONCLUSIVE, NOT_APPLICABLE)
# Verdicts that say something about the target (a run with none of them judged nothing).
JUDGED = (PASS, FAIL, WARN, INFO, BASELINED, STALE)


@dataclass(frozen=True)
class Verdict:
    outcome: str  # one of VERDICTS (a judge returns PASS, FAIL, WARN, INCONCLUSIVE or NOT_APPLICABLE)
    message: str = ""


def graded(outcome: str, level: str) -> str:
    """A broken requirement is a failure only at MUST; at SHOULD a warning, at MAY information."""
    if outcome != FAIL or level == MUST:
        return outcome
    return WARN if level == SHOULD else INFO
