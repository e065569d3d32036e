"""Problem details (RFC 9457, ARCP's catalogue) and WWW-Authenticate challenges (RFC 9449 §7.1).

The model keeps its own copy of the catalogue rows it emits (profile §7), so that it does not
share the suite's data: a wrong row there cannot hide behind a matching wrong row here.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse

from .config import ModelConfig

PROBLEM_BASE = "https://arcp.0x001.tech/docs/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"

# slug -> (title, status), copied from profile §7
PROBLEM_TYPES: dict[str, tuple[str, int]] = {
    "agent-not-found": ("Agent Not Found", 404),
    "duplicate-agent": ("Duplicate Agent", 409),
    "authentication-failed": ("Authentication Failed", 401),
    "token-invalid": ("Invalid or Expired Token", 401),
    "insufficient-permissions": ("Insufficient Permissions", 403),
    "dpop-required": ("DPoP Proof Required", 401),
    "dpop-invalid": ("Invalid DPoP Proof", 401),
    "dpop-binding-mismatch": ("DPoP Key Mismatch", 401),
    "token-not-dpop-bound": ("Token Not DPoP Bound", 401),
    "validation-failed": ("Request Validation Failed", 422),
    "invalid-input": ("Invalid Input Data", 400),
    "request-too-large": ("Request Too Large", 413),
    "internal-error": ("Internal Server Error", 500),
    "request-error": ("Request Processing Error", 400),
    "not-found": ("Resource Not Found", 404),
}

TOKEN_ERROR = "invalid_token"
PROOF_ERROR = "invalid_dpop_proof"
NONCE_ERROR = "use_dpop_nonce"  # RFC 9449 §8, §9
SWAPPED_ERROR = {TOKEN_ERROR: PROOF_ERROR, PROOF_ERROR: TOKEN_ERROR}


class Problem(Exception):
    """An error answer. `error` is the challenge's error parameter (None: no credentials were sent)."""

    def __init__(self, slug: str, detail: str, *, status: int | None = None, error: str | None = None, members: dict | None = None):
        super().__init__(detail)
        self.slug = slug
        self.detail = detail
        self.status = status or PROBLEM_TYPES[slug][1]
        self.error = error
        self.members = members or {}  # extension members of the body (RFC 9457 §3.2), e.g. an OAuth `error`


class MalformedRequest(Problem):
    """A refusal of a malformed request (profile §7): its `kind` says what is malformed (syntax,
    content-type, member-type, member, size; authorization for a junk Authorization header), so
    that a fault can mishandle just that kind."""

    def __init__(self, kind: str, slug: str, detail: str, **options):
        super().__init__(slug, detail, **options)
        self.kind = kind


def problem_body(config: ModelConfig, request: Request, problem: Problem) -> dict:
    title = PROBLEM_TYPES[problem.slug][0]
    body = {
        "type": PROBLEM_BASE + problem.slug,
        "title": "Error" if config.has("problem-wrong-title") else title,
        "status": _mismatched(problem.status) if config.has("problem-status-mismatch") else problem.status,
        "detail": problem.detail,
        "instance": request.url.path,
        "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "request_id": uuid.uuid4().hex,
    }
    body.update(problem.members)
    if config.has("problem-no-detail"):
        del body["detail"]
    if config.has("problem-no-request-id"):
        del body["request_id"]
    return body


def _mismatched(status: int) -> int:
    return 422 if status == 400 else 400


def challenge(config: ModelConfig, error: str | None) -> str:
    """The WWW-Authenticate value of a 401: DPoP with algs where DPoP is on, Bearer where it is off."""
    if config.has("challenge-wrong-error") and error:
        error = SWAPPED_ERROR.get(error, error)
    if not config.dpop or config.has("bearer-challenge"):
        params = ['realm="arcp"']
        scheme = "Bearer"
    else:
        params = [] if config.has("challenge-no-algs") else [f'algs="{" ".join(config.algs)}"']
        scheme = "DPoP"
    if error:
        params.append(f'error="{error}"')
    return f"{scheme} {', '.join(params)}".strip()


def problem_response(config: ModelConfig, request: Request, problem: Problem) -> JSONResponse:
    headers = {}
    if problem.status == 401 and not config.has("no-www-authenticate"):
        headers["WWW-Authenticate"] = challenge(config, problem.error)
    media_type = "application/json" if config.has("plain-json-errors") else PROBLEM_MEDIA_TYPE
    return JSONResponse(problem_body(config, request, problem), problem.status, headers, media_type=media_type)


def plain_text_response(config: ModelConfig, problem: Problem) -> PlainTextResponse:
    """The refusal as text/plain, as a framework's default error page would say it (a fault)."""
    headers = {"WWW-Authenticate": challenge(config, problem.error)} if problem.status == 401 else {}
    return PlainTextResponse(f"{PROBLEM_TYPES[problem.slug][0]}: {problem.detail}", problem.status, headers)
