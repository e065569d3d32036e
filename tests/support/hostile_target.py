"""A hostile ARCP target for the project's own tests, and the probes that tell a test what a run's
secrets were.

`HostileTarget` is the strict model target (conformance.model_target) behind an ASGI middleware:
the model keeps the registration flow working, so the suite gets far enough to judge, record and
report, while the middleware makes every answer hostile: HTML and script (PAYLOAD) in the server
version, in every problem member, in WWW-Authenticate, Content-Type, Retry-After and a header of
its own, in the tokens it issues (re-signed with a hostile `kid` header and claim) and in the
agent id it answers; error bodies that are HTML, invalid UTF-8 with control characters, or many
megabytes; and the request's agent key echoed back in a problem (as FastAPI's 422s echo their
input). With `hostile=False` it only records. Either way it records, server side, every token it
issued and every credential (Authorization token, DPoP proof) it received.

Loaded into a suite run with `-p hostile_target` (tests/support on PYTHONPATH) and ARCP_TEST_PROBE=FILE,
this module is also a pytest plugin that writes to FILE, at the end of the run, every private key
the suite created (conformance.dpop.keys.KeyPair) and, for `--target-url model:...`, the model's agent
key and signing secret and what its recorder saw.

`Beacon` is a loopback HTTP listener: hostile payloads that run, or load anything, call it.
"""
from __future__ import annotations

import asyncio
import atexit
import json
import os
import re
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from pathlib import Path

import jwt

import conformance.model_target.server as model_server
from conformance.dpop.keys import KeyPair
from conformance.model_target import ModelServer
from conformance.model_target.config import ModelConfig

VARIANTS = ("problem", "html", "binary", "huge")  # what error responses become, in turn
TOKEN_MEMBERS = ("temp_token", "validated_token", "access_token")
MARKER = "PW" + "NED"  # what executed payloads write into the DOM; the payload text itself never holds it
_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def payload(beacon: str) -> str:
    """One line (a valid header value) of HTML and script, each piece a way out of a different context."""
    b = beacon
    return " ".join([
        f"<script>fetch('{b}/script');document.title='PW'+'NED'</script>",
        f"<img src=x onerror=\"fetch('{b}/onerror');document.body.setAttribute('data-'+'pwned','1')\">",
        f"<img src='{b}/img'>",
        f"\"><svg onload=\"fetch('{b}/svg-dq')\">",
        f"'><svg onload=\"fetch('{b}/svg-sq')\">",
        f"'><input autofocus onfocus=\"fetch('{b}/autofocus')\">",
        f"</script><script>fetch('{b}/breakout');document.title='PW'+'NED'</script>",
        f"</pre></td></tr></table></div></details><iframe src='{b}/iframe'></iframe>",
        f"<a id=jslink href=\"javascript:fetch('{b}/javascript')\">link</a>",
        f"<meta http-equiv=refresh content='0;url={b}/meta'>",
        f"<link rel=stylesheet href='{b}/css'><style>@import '{b}/import';</style>",
        f"<object data='{b}/object'></object><embed src='{b}/embed'>",
        "--><!--]]>${7*7}{{7*7}}",
    ])


class Beacon:
    """A loopback HTTP server that records the path of every request it gets."""

    def __init__(self):
        hits = self.hits = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                hits.append(self.path)
                self.send_response(204)
                self.end_headers()

            do_POST = do_HEAD = do_GET  # noqa: N815

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Recorder:
    """ASGI middleware: records the tokens the app issues and the credentials it receives."""

    def __init__(self, app, config: ModelConfig):
        self.app, self.config = app, config
        self.issued: set[str] = set()
        self.received: set[str] = set()
        self.requests = count()

    def _record_request(self, scope) -> None:
        for name, value in scope.get("headers", []):
            name, value = name.decode("latin-1").lower(), value.decode("latin-1")
            if name == "authorization" and " " in value:
                self.received.add(value.partition(" ")[2].strip())
            elif name == "dpop":
                self.received.add(value.strip())

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        self._record_request(scope)
        chunks: list[bytes] = []

        async def body_receive():
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
            return message

        start: dict = {}
        body: list[bytes] = []

        async def capture(message):
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                body.append(message.get("body", b""))

        await self.app(scope, body_receive, capture)
        status, headers, content = await self.rewrite(scope, b"".join(chunks), start["status"], list(start.get("headers", [])), b"".join(body))
        parts = content if isinstance(content, list) else [content]
        self.issued.update(t for part in parts[:1] for t in _JWS.findall(part.decode("latin-1")) if _is_jws(t))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if len(parts) == 1:
            await send({"type": "http.response.body", "body": parts[0], "more_body": False})
            return
        gone = asyncio.Event()  # a client that read enough closes the connection: stop writing then

        async def watch():
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.ensure_future(watch())
        try:
            for part in parts:
                if gone.is_set():
                    return
                await send({"type": "http.response.body", "body": part, "more_body": True})
                await asyncio.sleep(0)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()

    async def rewrite(self, scope, request_body: bytes, status: int, headers: list, body: bytes):
        return status, headers, body


def _is_jws(text: str) -> bool:
    try:
        jwt.get_unverified_header(text)
        return True
    except jwt.PyJWTError:
        return False


def _set(headers: list, name: str, value: str) -> list:
    lname = name.lower().encode()
    return [(k, v) for k, v in headers if k.lower() != lname] + [(lname, value.encode("latin-1"))]


class Hostile(Recorder):
    """Recorder that also makes every answer hostile (see the module's docstring)."""

    def __init__(self, app, config: ModelConfig, beacon: str, big_bytes: int, variants: tuple[str, ...] = VARIANTS):
        super().__init__(app, config)
        self.payload = payload(beacon)
        self.big_bytes = big_bytes
        self.variants = variants
        self.huge_served = 0
        self.errors = count()

    def _resign(self, token: str) -> str:
        claims = jwt.decode(token, self.config.jwt_secret, algorithms=["HS256"], options={"verify_aud": False, "verify_exp": False})
        return jwt.encode({**claims, "hostile": self.payload}, self.config.jwt_secret, algorithm="HS256",
                          headers={"kid": self.payload})

    async def rewrite(self, scope, request_body, status, headers, body):
        p = self.payload
        headers = _set(headers, "x-hostile", p)
        path = scope["path"]
        if status < 400:
            try:
                doc = json.loads(body)
            except ValueError:
                return status, headers, body
            if path == "/health":
                doc["version"] = p
            elif isinstance(doc, dict) and path not in ("/.well-known/arcp-configuration", "/public/agent_types"):
                for member in TOKEN_MEMBERS:
                    if isinstance(doc.get(member), str):
                        doc[member] = self._resign(doc[member])
                doc["message"] = p
                if path == "/agents/register":
                    doc["agent_id"] = p
            body = json.dumps(doc).encode()
            return status, _set(headers, "content-length", str(len(body))), body
        # error responses, in turn: a problem full of payload, HTML, invalid UTF-8, a huge body
        variant = self.variants[next(self.errors) % len(self.variants)]
        if path.endswith("/request_temp_token"):
            variant = "problem"  # its request holds the agent key: echo it back in the problem
        try:
            problem = json.loads(body)
        except ValueError:
            problem = {}
        challenge = next((v.decode("latin-1") for k, v in headers if k.lower() == b"www-authenticate"), None)
        if challenge is not None:
            headers = _set(headers, "www-authenticate", f'{challenge}, Hostile realm="{p}", error="{p}"')
        elif status == 401:
            headers = _set(headers, "www-authenticate", f'Hostile realm="{p}"')
        headers = _set(headers, "retry-after", p)
        try:
            echoed = json.loads(request_body) if request_body else None
        except ValueError:
            echoed = None
        if variant == "problem":
            problem.update(title=p, detail=p, instance=p, request_id=p, input=echoed, x_hostile=p)
            headers = _set(headers, "content-type", f'application/problem+json; profile="{p}"')
            out = json.dumps(problem).encode()
        elif variant == "html":
            headers = _set(headers, "content-type", "text/html; charset=utf-8")
            out = f"<!doctype html><html><head><title>{p}</title></head><body>{p}<pre>{json.dumps(echoed)}</pre></body></html>".encode()
        elif variant == "binary":
            headers = _set(headers, "content-type", f"{p}")
            out = b"\xff\xfe\x00\x1b[2J\x1b]0;" + p.encode() + b"\x07\xc3\x28\xed\xa0\x80\xf4\x90\x80\x80" + p.encode()
        else:
            headers = _set(headers, "content-type", "application/problem+json")
            chunk = (b'{"type":"' + p.encode().replace(b'"', b"'") + b"\xff\xfe" * 64) * 16
            chunk = chunk * max(1, (1 << 16) // len(chunk))
            headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
            self.huge_served += 1
            return status, headers, [chunk] * max(1, self.big_bytes // len(chunk))
        return status, _set(headers, "content-length", str(len(out))), out


@contextmanager
def _wrapped_model(wrap):
    """Make ModelServer build its app wrapped by wrap(app, config) while it starts."""
    real = model_server.create_app

    def create_app(config, holder):
        return wrap(real(config, holder), config)

    with _PATCH_LOCK:
        model_server.create_app = create_app
        try:
            yield
        finally:
            model_server.create_app = real


_PATCH_LOCK = threading.Lock()


class HostileTarget:
    """The model target in `mode`, with known secrets, behind Hostile (or only Recorder)."""

    def __init__(self, mode: str = "required", *, beacon: str = "http://127.0.0.1:9", hostile: bool = True,
                 big_bytes: int = 8 << 20, variants: tuple[str, ...] = VARIANTS, agent_key: str = "hostile-agent-key-0123456789",
                 jwt_secret: str = "hostile-jwt-secret-0123456789abcdef0123456789"):
        holder = {}

        def wrap(app, config):
            holder["app"] = Hostile(app, config, beacon, big_bytes, variants) if hostile else Recorder(app, config)
            return holder["app"]

        with _wrapped_model(wrap):
            self.server = ModelServer(ModelConfig(mode=mode, agent_key=agent_key, jwt_secret=jwt_secret))
        self.recorder: Recorder = holder["app"]
        self.url, self.config = self.server.url, self.server.config

    def close(self) -> None:
        self.server.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --- the probe: a pytest plugin for the suite's subprocess --------------------------------------

PROBE_ENV = "ARCP_TEST_PROBE"
_created_keys: list[KeyPair] = []
_recorders: list[Recorder] = []

if os.environ.get(PROBE_ENV):
    _post_init = KeyPair.__post_init__

    def _remember(self) -> None:
        _post_init(self)
        _created_keys.append(self)

    KeyPair.__post_init__ = _remember
    _real_create_app = model_server.create_app

    def _recording_app(config, holder):
        recorder = Recorder(_real_create_app(config, holder), config)
        _recorders.append(recorder)
        return recorder

    model_server.create_app = _recording_app


def pytest_unconfigure(config) -> None:
    path = os.environ.get(PROBE_ENV)
    if not path:
        return
    from conformance.pytest_plugin.state import state

    model = state(config).model
    private = []
    for key in _created_keys:
        jwk = key.private_jwk
        private.append({"d": jwk["d"], "pem": _pem(key)})
    with open(path, "w", encoding="utf-8") as f:
        json.dump({
            "private_keys": private,
            "agent_key": model.config.agent_key if model else None,
            "jwt_secret": model.config.jwt_secret if model else None,
            "issued": sorted(t for r in _recorders for t in r.issued),
            "received": sorted(t for r in _recorders for t in r.received),
        }, f)


def _pem(key: KeyPair) -> str:
    from cryptography.hazmat.primitives import serialization

    text = key.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    return "".join(line for line in text.splitlines() if "-----" not in line)


# --- the suite run against it, the probe loaded ------------------------------------------------
# (support.suite_run is imported where it is used: in the suite's own process this module is the
# top-level plugin `hostile_target`, and `support` is not importable there)

def probe_path(cwd: Path) -> Path:
    return cwd / "probe.json"


def run_probed(cwd: Path, *args: str, env: dict | None = None, timeout: float = 120):
    """run_suite (support.suite_run) with this module loaded as the probe plugin: read_probe(run)
    then tells what the run's secrets were."""
    from support.suite_run import run_suite

    return run_suite(cwd, *args, env={PROBE_ENV: str(probe_path(cwd)), **(env or {})}, timeout=timeout, plugins=["hostile_target"])


def read_probe(run) -> dict:
    """What the probe wrote at the end of `run` (see pytest_unconfigure); {} if it wrote nothing."""
    path = probe_path(run.cwd)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


HOSTILE_ARGS = ("--dpop-mode", "required", "--fuzz-examples", "5", "--stateful-examples", "2")
BIG_BYTES = 128 << 20  # each huge error body: far more than target.MAX_BODY_BYTES (streamed until the client hangs up)
_shared: dict = {}


def shared_hostile_run(tmp_path_factory):
    """One run of the suite against a HostileTarget, shared by the test modules of this process:
    (beacon, target, run). The beacon and the target stay up until the process ends."""
    if "run" not in _shared:
        beacon = Beacon()
        target = HostileTarget("required", beacon=beacon.url, big_bytes=BIG_BYTES)
        atexit.register(beacon.close)
        atexit.register(target.close)
        env = {"ARCP_CONFORMANCE_AGENT_KEY": target.config.agent_key, "ARCP_CONFORMANCE_JWT_SECRET": target.config.jwt_secret}
        run = run_probed(tmp_path_factory.mktemp("hostile-run"), "--target-url", target.url, *HOSTILE_ARGS, env=env)
        _shared.update(beacon=beacon, target=target, run=run)
    return _shared["beacon"], _shared["target"], _shared["run"]
