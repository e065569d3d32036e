"""DPoP-Nonce as a client (RFC 9449 §8, §9): which nonce the proof of an attempt carries, and
which refusals ask for a fresh one.

TargetClient keeps the newest nonce the target gave and hands it to each attempt's proofs through
`handing`: a header factory builds its proofs inside that block, and a proof that follows the
target's nonce takes it with `take_nonce` (flows.Proof does). Handing it over this way leaves
every header factory's signature as it is, and tells the client whether the request's proof
followed its nonce at all: only such a request is worth retrying with a fresh one (a replayed
proof, or one made without the nonce on purpose, would be refused the same way again).
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from .exchange import Exchange

NONCE_HEADER = "DPoP-Nonce"
NONCE_ERROR = "use_dpop_nonce"  # RFC 9449 §8 (token endpoint, 400) and §9 (resource, 401 challenge)
REFUSALS = (400, 401)  # where a target asks for a nonce (§8: 400 error; §9: 401 challenge)

# error=use_dpop_nonce in a challenge, quoted or not: the judges parse challenges properly
# (judging.challenges); the client only needs to know that it was asked for a nonce.
_CHALLENGE_ERROR = re.compile(r'(?:^|[\s,])error\s*=\s*"?' + NONCE_ERROR + r'"?(?:$|[\s,])', re.IGNORECASE)


@dataclass
class NonceSlot:
    """The nonce handed to one attempt's proofs, and whether a proof took it."""

    value: str | None
    taken: bool = False


_SLOT: ContextVar[NonceSlot | None] = ContextVar("arcp_conformance_dpop_nonce", default=None)


@contextmanager
def handing(nonce: str | None) -> Iterator[NonceSlot]:
    """Make `nonce` the one proofs built in this block (in this thread) follow."""
    slot = NonceSlot(nonce)
    token = _SLOT.set(slot)
    try:
        yield slot
    finally:
        _SLOT.reset(token)


def take_nonce() -> str | None:
    """The nonce a proof that follows the target's nonce carries: the one handed to the attempt
    being built, or None (outside a send, or the target gave none yet)."""
    slot = _SLOT.get()
    if slot is None:
        return None
    slot.taken = True
    return slot.value


def nonce_of(ex: Exchange) -> str | None:
    """The DPoP-Nonce a response carries (the last field if, against §8, there are several)."""
    values = [v.strip() for v in ex.headers(NONCE_HEADER) if v.strip()]
    return values[-1] if values else None


def asks_for_nonce(ex: Exchange) -> bool:
    """A refusal that says use_dpop_nonce: in a 401's challenge (§9) or a 400's `error` (§8)."""
    if ex.status == 401 and any(_CHALLENGE_ERROR.search(v) for v in ex.headers("www-authenticate")):
        return True
    return ex.status in REFUSALS and ex.json_member("error") == NONCE_ERROR
