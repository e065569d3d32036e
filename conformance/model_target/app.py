"""The model ARCP server (profile §3–§7) as a Starlette app: the three registration phases and
the agent endpoints, DPoP-protected per mode, every error a problem+json."""
from __future__ import annotations

import asyncio
import json
import re
import secrets
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .auth import Caller, Guard, nonce_error
from .config import ModelConfig
from .dpop import NonceStore, ProofChecker, ProofError, ReplayStore, unverified_thumbprint
from .problems import PROOF_ERROR, TOKEN_ERROR, MalformedRequest, Problem, plain_text_response, problem_response
from .tokens import Tokens

VERSION = "model-0.1"
AGENT_ID = re.compile(r"[A-Za-z0-9_-]{3,64}")
SEMVER = re.compile(r"\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
HEALTH_TIMEOUT = 5.0
POLL_WAIT = 2.0  # a poll waits this long for a pending check, so clients rarely need to sleep


@dataclass
class Validation:
    agent_id: str
    agent_type: str
    jkt: str | None  # the binding of the temp token, passed on to the validated token
    done: asyncio.Event = field(default_factory=asyncio.Event)
    status: str = "pending"


# --- request bodies: anything but a JSON object of the right members is a 4xx problem (profile §7)

MAX_BODY_BYTES = 16 << 10  # ARCP's bodies are small; a larger one is refused before it is parsed
JSON_MEDIA_TYPE = "application/json"


async def json_object(request: Request) -> dict:
    media_type = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if media_type != JSON_MEDIA_TYPE:
        raise MalformedRequest("content-type", "invalid-input", f"the request body must be {JSON_MEDIA_TYPE}, not {media_type or 'untyped'}")
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise MalformedRequest("size", "request-too-large", f"the request body is larger than {MAX_BODY_BYTES} bytes")
    try:
        body = json.loads(raw.decode("utf-8"))  # RFC 8259 §8.1: JSON text is UTF-8, nothing else
    except UnicodeDecodeError:
        raise MalformedRequest("syntax", "invalid-input", "the request body is not UTF-8") from None
    except ValueError:
        raise MalformedRequest("syntax", "invalid-input", "the request body is not JSON") from None
    if not isinstance(body, dict):
        raise MalformedRequest("member-type", "validation-failed", "the request body must be a JSON object")
    return body


def member(body: dict, name: str, kind: type, what: str):
    """The member `name`: 422 when it is missing or not of the JSON type `kind`."""
    if name not in body or body[name] is None:
        raise MalformedRequest("member", "validation-failed", f"field {name!r} is missing")
    value = body[name]
    if not isinstance(value, kind):
        raise MalformedRequest("member-type", "validation-failed", f"field {name!r} must be {what}")
    return value


def text(body: dict, name: str, *, pattern: re.Pattern | None = None, min_length: int = 1) -> str:
    value = member(body, name, str, "a string")
    if len(value) < min_length or (pattern and not pattern.fullmatch(value)):
        raise MalformedRequest("member", "validation-failed", f"field {name!r} is invalid")
    return value


def http_url(body: dict, name: str) -> str:
    value = text(body, name)
    try:
        parts = urlsplit(value)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port or 0) >= 0
    except ValueError:  # e.g. a port that is not a number: urlsplit checks it lazily
        ok = False
    if not ok:
        raise MalformedRequest("member", "validation-failed", f"field {name!r} must be an http(s) URL")
    return value


def string_list(body: dict, name: str) -> list[str]:
    value = member(body, name, list, "a list of strings")
    if not all(isinstance(v, str) for v in value):
        raise MalformedRequest("member-type", "validation-failed", f"field {name!r} must be a list of strings")
    if not value or not all(value):
        raise MalformedRequest("member", "validation-failed", f"field {name!r} must be a non-empty list of non-empty strings")
    return value


class ModelApp:
    def __init__(self, config: ModelConfig, public_url_holder):
        self.config = config
        self._holder = public_url_holder
        self.tokens = Tokens(config)
        self.nonces = NonceStore()
        self.proofs = ProofChecker(config, ReplayStore(config.proof_ttl + config.clock_skew), self.nonces)
        self.guard = Guard(config, self.tokens, self.proofs, self.public_url)
        self.validations: dict[str, Validation] = {}
        self.used_validation_ids: set[str] = set()
        self.agents: dict[str, dict] = {}
        self._tasks: set[asyncio.Task] = set()  # strong references to the running health checks
        self._health_client: tuple[asyncio.AbstractEventLoop, httpx.AsyncClient] | None = None

    def public_url(self) -> str:
        holder = self._holder
        return (holder if isinstance(holder, str) else holder.url).rstrip("/")

    # --- helpers

    def agent_type_of(self, body: dict) -> str:
        agent_type = text(body, "agent_type")
        if agent_type not in self.config.agent_types:
            raise MalformedRequest("member", "validation-failed", f"agent_type must be one of {', '.join(self.config.agent_types)}")
        return agent_type

    def token_response(self, body: dict, status: int = 200) -> JSONResponse:
        return JSONResponse(body, status, {} if self.config.has("no-cache-headers") else NO_STORE)

    def token_type(self, jkt: str | None) -> str:
        return "DPoP" if jkt and not self.config.has("token-type-bearer") else "Bearer"

    @staticmethod
    def own_agent(caller: Caller, agent_id: str) -> None:
        if caller.agent_id != agent_id:
            raise Problem("insufficient-permissions", "the token belongs to another agent")

    # --- discovery

    async def health(self, request: Request) -> JSONResponse:
        return JSONResponse({"status": "healthy", "version": VERSION})

    async def configuration(self, request: Request) -> JSONResponse:
        base = self.public_url()
        return JSONResponse({
            "issuer": base,
            "token_endpoint": f"{base}/auth/agent/request_temp_token",
            "validation_endpoint": f"{base}/auth/agent/validate_compliance",
            "registration_endpoint": f"{base}/agents/register",
            "dpop_signing_alg_values_supported": list(self.config.algs),
        })

    async def agent_types(self, request: Request) -> JSONResponse:
        return JSONResponse({"allowed_agent_types": list(self.config.agent_types)})

    async def jwks(self, request: Request) -> JSONResponse:
        return JSONResponse({"keys": []})  # tokens are HS256: there is no public key to publish

    # --- phase 1

    async def request_temp_token(self, request: Request) -> JSONResponse:
        body = await json_object(request)
        agent_id = text(body, "agent_id", pattern=AGENT_ID)
        agent_type = self.agent_type_of(body)
        key = text(body, "agent_key", min_length=10)
        if not secrets.compare_digest(key.encode(), self.config.agent_key.encode()):
            raise Problem("authentication-failed", "unknown agent key")
        jkt = self.phase1_binding(request)
        return self.token_response({
            "temp_token": self.tokens.issue("temp", agent_id, agent_type, jkt),
            "token_type": self.token_type(jkt),
            "expires_in": self.tokens.expires_in("temp"),
            "message": "Temporary token issued: validate compliance next",
        })

    def phase1_binding(self, request: Request) -> str | None:
        """The key the temp token is bound to: the proof's, when DPoP is on and a proof is sent."""
        cfg = self.config
        if not cfg.dpop:
            return None
        proofs = request.headers.getlist("dpop")
        if len(proofs) > 1 and not cfg.has("accept-two-headers"):
            raise Problem("dpop-invalid", "more than one DPoP header field", error=PROOF_ERROR)
        if not proofs:
            if cfg.mode == "required" and not cfg.has("phase1-noproof-issued"):
                raise Problem("dpop-required", "DPoP is required: send a DPoP proof")
            return None
        try:
            # No token is presented at phase 1, so the proof carries no ath.
            return self.proofs.check(proofs[0], request.method, self.guard.request_url(request), None)
        except ProofError as exc:
            if exc.rule == "nonce":  # RFC 9449 §8: a token endpoint's 400 error, here in problem+json
                raise Problem("dpop-invalid", str(exc), status=400, members={"error": nonce_error(cfg)}) from None
            if cfg.has("phase1-accepts-bad-proof"):
                return unverified_thumbprint(proofs[0])
            raise Problem("dpop-invalid", str(exc), error=PROOF_ERROR) from None

    # --- phase 2

    def body_binding(self, body: dict) -> str | None:
        """With the body-jkt-trusted fault, a thumbprint the phase-2 body names (dpop_jkt, cnf.jkt or jkt)
        binds the validated token, over the verified proof's key; the strict model never reads one."""
        if not self.config.has("body-jkt-trusted"):
            return None
        cnf = body.get("cnf")
        named = body.get("dpop_jkt") or (cnf.get("jkt") if isinstance(cnf, dict) else None) or body.get("jkt")
        return named if isinstance(named, str) and named else None

    async def validate_compliance(self, request: Request) -> JSONResponse:
        caller = self.guard.protected(request, "temp")
        body = await json_object(request)
        agent_id = text(body, "agent_id", pattern=AGENT_ID)
        self.own_agent(caller, agent_id)
        agent_type = self.agent_type_of(body)
        endpoint = http_url(body, "endpoint")
        string_list(body, "capabilities")
        text(body, "communication_mode")
        text(body, "version")
        validation_id = uuid.uuid4().hex
        check = Validation(agent_id, agent_type, self.body_binding(body) or caller.jkt)
        self.validations[validation_id] = check
        task = asyncio.create_task(self.check_agent(check, endpoint))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        polling_url = f"/auth/agent/validation/{validation_id}"
        body = {"status": "pending", "validation_id": validation_id, "polling_url": polling_url, "retry_after": 1}
        return JSONResponse(body, 202, {"Location": polling_url})

    async def check_agent(self, check: Validation, endpoint: str) -> None:
        """GET {endpoint}/health of the agent being validated: healthy and its own id, or failed."""
        try:
            if self.config.isolated:
                raise httpx.ConnectError(f"{endpoint} is unreachable from the model (model option isolated)")
            response = await self.health_client().get(endpoint.rstrip("/") + "/health")
            answer = response.json() if response.status_code == 200 else None
            healthy = isinstance(answer, dict) and answer.get("status") == "healthy" and answer.get("agent_id") == check.agent_id
        except (httpx.HTTPError, ValueError):
            healthy = False
        check.status = "passed" if healthy else "failed"
        check.done.set()

    def health_client(self) -> httpx.AsyncClient:
        """One client for all of this server's health checks (per event loop: a test client may
        run each request in a loop of its own): a client per check built a new SSL context each
        time, most of a check's time. It keeps no connection alive, so no socket outlives a
        check and nothing needs closing when the server stops."""
        loop = asyncio.get_running_loop()
        if self._health_client is None or self._health_client[0] is not loop:
            client = httpx.AsyncClient(
                timeout=HEALTH_TIMEOUT, follow_redirects=False, limits=httpx.Limits(max_keepalive_connections=0)
            )
            self._health_client = (loop, client)
        return self._health_client[1]

    async def validation_status(self, request: Request) -> JSONResponse:
        caller = self.guard.bearer_only(request, "temp")
        check = self.validations.get(request.path_params["validation_id"])
        if check is None:
            raise Problem("not-found", "no such validation")
        self.own_agent(caller, check.agent_id)
        try:
            await asyncio.wait_for(check.done.wait(), POLL_WAIT)
        except asyncio.TimeoutError:
            pass
        body: dict = {"status": check.status, "validation_id": request.path_params["validation_id"]}
        if check.status == "passed":
            body["validated_token"] = self.tokens.issue(
                "validated", check.agent_id, check.agent_type, check.jkt, validation_id=body["validation_id"]
            )
            body["token_type"] = self.token_type(check.jkt)
            body["expires_in"] = self.tokens.expires_in("validated")
        return self.token_response(body)

    # --- phase 3

    async def register(self, request: Request) -> JSONResponse:
        caller = self.guard.protected(request, "validated")
        body = await json_object(request)
        agent_id = text(body, "agent_id", pattern=AGENT_ID)
        self.own_agent(caller, agent_id)
        agent_type = self.agent_type_of(body)
        for name, minimum in (("name", 1), ("context_brief", 10), ("owner", 1), ("public_key", 32), ("communication_mode", 1)):
            text(body, name, min_length=minimum)
        text(body, "version", pattern=SEMVER)
        http_url(body, "endpoint")
        string_list(body, "capabilities")
        if not member(body, "metadata", dict, "an object"):
            raise MalformedRequest("member", "validation-failed", "field 'metadata' must be a non-empty object")
        # From here to the end no await: the check and the use of the validation id are atomic.
        validation_id = self.unused_validation(caller)
        if agent_id in self.agents:
            raise Problem("duplicate-agent", f"agent {agent_id} is already registered")
        if validation_id is not None and not self.config.has("validated-reusable"):
            self.used_validation_ids.add(validation_id)
        self.agents[agent_id] = {"agent_type": agent_type, "endpoint": body["endpoint"]}
        return self.token_response({
            "status": "success",
            "agent_id": agent_id,
            "access_token": self.tokens.issue("access", agent_id, agent_type, caller.jkt),
            "token_type": self.token_type(caller.jkt),
            "expires_in": self.tokens.expires_in("access"),
        })

    def unused_validation(self, caller: Caller) -> str | None:
        """The validated token's validation id, if not used yet: a validated token registers once."""
        validation_id = caller.claims.get("validation_id")
        if validation_id is None and self.config.has("accept-wrong-phase"):
            return None  # the fault let a token of another phase through
        if not isinstance(validation_id, str):
            raise Problem("token-invalid", "the validated token names no validation", error=TOKEN_ERROR)
        if validation_id in self.used_validation_ids:
            if self.config.has("500-on-used-validated"):  # the fault: the second registration trips the server up
                raise RuntimeError("validation id already consumed")
            raise Problem("token-invalid", "this validated token was already used", error=TOKEN_ERROR)
        return validation_id

    # --- agent endpoints

    def registered_agent(self, request: Request) -> str:
        caller = self.guard.protected(request, "access", operation=True)
        agent_id = request.path_params["agent_id"]
        self.own_agent(caller, agent_id)
        if agent_id not in self.agents:
            raise Problem("agent-not-found", f"agent {agent_id} is not registered")
        return agent_id

    async def unregister(self, request: Request) -> JSONResponse:
        agent_id = self.registered_agent(request)
        del self.agents[agent_id]
        return JSONResponse({"status": "success", "agent_id": agent_id, "message": "Agent unregistered"})

    async def heartbeat(self, request: Request) -> JSONResponse:
        agent_id = self.registered_agent(request)
        return JSONResponse({"status": "success", "agent_id": agent_id})

    async def report_metrics(self, request: Request) -> JSONResponse:
        agent_id = self.registered_agent(request)
        metrics = await json_object(request)
        self.agents[agent_id].setdefault("metrics", {}).update(metrics)
        return JSONResponse({"status": "success", "agent_id": agent_id, "metrics": self.agents[agent_id]["metrics"]})

    async def metrics(self, request: Request) -> JSONResponse:
        agent_id = self.registered_agent(request)
        return JSONResponse({"agent_id": agent_id, "metrics": self.agents[agent_id].get("metrics", {})})

    async def agent_info(self, request: Request) -> JSONResponse:
        agent_id = self.registered_agent(request)
        agent = self.agents[agent_id]
        return JSONResponse({"agent_id": agent_id, "agent_type": agent["agent_type"], "endpoint": agent["endpoint"], "status": "alive"})

    async def refresh(self, request: Request) -> JSONResponse:
        """A new access token for a valid one, with the same binding, audience and type."""
        caller = self.guard.protected(request, "access", proof_checked=not self.config.has("refresh-without-proof"))
        drops = self.config.has("refresh-drops-claims")
        jkt = None if drops else caller.jkt
        claims = caller.claims
        token = self.tokens.issue("access", claims["agent_id"], str(claims.get("agent_type", "")), jkt,
                                  foreign=self.config.has("refresh-token-unusable"), phase_claims=not drops)
        return self.token_response({"access_token": token, "token_type": self.token_type(jkt), "expires_in": self.tokens.expires_in("access")})

    # --- errors: every one a problem+json, a crash included

    # the faults that mishandle a malformed request of one kind, as if its parsing had crashed
    CRASH_FAULTS = {"syntax": "500-on-malformed-json", "content-type": "500-on-wrong-content-type", "member-type": "500-on-wrong-member-type"}

    async def on_problem(self, request: Request, exc: Problem) -> Response:
        if isinstance(exc, MalformedRequest):
            crash = self.CRASH_FAULTS.get(exc.kind)
            if crash and self.config.has(crash):
                return await self.on_crash(request, RuntimeError(exc.detail))
            if self.config.has("plain-text-junk-auth" if exc.kind == "authorization" else "plain-text-malformed-error"):
                return plain_text_response(self.config, exc)
        return problem_response(self.config, request, exc)

    async def on_http_error(self, request: Request, exc: HTTPException) -> JSONResponse:
        slug = "not-found" if exc.status_code == 404 else "request-error"
        return problem_response(self.config, request, Problem(slug, str(exc.detail), status=exc.status_code))

    async def on_crash(self, request: Request, exc: Exception) -> JSONResponse:
        return problem_response(self.config, request, Problem("internal-error", f"unexpected {type(exc).__name__}"))

    def routes(self) -> list[Route]:
        return [
            Route("/health", self.health),
            Route("/.well-known/arcp-configuration", self.configuration),
            Route("/.well-known/jwks.json", self.jwks),
            Route("/public/agent_types", self.agent_types),
            Route("/auth/agent/request_temp_token", self.request_temp_token, methods=["POST"]),
            Route("/auth/agent/validate_compliance", self.validate_compliance, methods=["POST"]),
            Route("/auth/agent/validation/{validation_id}", self.validation_status),
            Route("/agents/register", self.register, methods=["POST"]),
            Route("/agents/{agent_id}", self.unregister, methods=["DELETE"]),
            Route("/agents/{agent_id}", self.agent_info, methods=["GET"]),
            Route("/agents/{agent_id}/heartbeat", self.heartbeat, methods=["POST"]),
            Route("/agents/{agent_id}/metrics", self.report_metrics, methods=["POST"]),
            Route("/agents/{agent_id}/metrics", self.metrics, methods=["GET"]),
            Route("/tokens/refresh", self.refresh, methods=["POST"]),
        ]


# The DPoP-protected endpoints and phase 1: where the model gives nonces (every agent endpoint too).
NONCE_PATHS = re.compile(r"/auth/agent/(request_temp_token|validate_compliance)|/agents/.+|/tokens/refresh")


class NonceHeader:
    """ASGI middleware: a fresh DPoP-Nonce on every response of NONCE_PATHS, refusals included
    (RFC 9449 §8, §9). It sits inside Starlette's exception handling, so problem responses get one."""

    def __init__(self, app, nonces: NonceStore):
        self.app = app
        self.nonces = nonces

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not NONCE_PATHS.fullmatch(scope["path"]):
            await self.app(scope, receive, send)
            return

        async def send_with_nonce(message):
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("DPoP-Nonce", self.nonces.issue())
            await send(message)

        await self.app(scope, receive, send_with_nonce)


class Latency:
    """ASGI middleware: every HTTP answer waits `seconds` before it starts, as if it crossed a
    network. asyncio.sleep, so the answers to concurrent requests wait at the same time."""

    def __init__(self, app, seconds: float):
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            await asyncio.sleep(self.seconds)
        await self.app(scope, receive, send)


def middleware(config: ModelConfig, model: ModelApp) -> list[Middleware]:
    layers = [Middleware(Latency, seconds=config.latency_ms / 1000)] if config.latency_ms else []
    if config.issues_nonces:
        layers.append(Middleware(NonceHeader, nonces=model.nonces))
    return layers


def create_app(config: ModelConfig, public_url_holder) -> Starlette:
    """`public_url_holder`: the server's public URL as a str, or any object with a `url`
    attribute (a ModelServer, whose port is known only once bound). It is the only source of
    the URI a proof's htu must name: never the Host or X-Forwarded-* headers."""
    model = ModelApp(config, public_url_holder)
    app = Starlette(
        routes=model.routes(),
        exception_handlers={Problem: model.on_problem, HTTPException: model.on_http_error, Exception: model.on_crash},
        middleware=middleware(config, model),
    )
    app.state.model = model
    return app
