"""conformance.wire.redact on its own: tokens found whatever they look like, nested tokens only
hashed, request secrets blanked in what the target echoes. (No secret in any output of a whole
run: tests/e2e/test_secrets.py.)"""
from __future__ import annotations

import base64
import json

import jwt

from conformance.wire import redact


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_token_is_found_whatever_its_header_starts_with():
    whole = jwt.encode({"sub": "x"}, "k" * 32, algorithm="HS256")
    _, payload, sig = whole.split(".")
    header = _b64(b'{ "alg": "HS256", "kid": 5}')
    odd = f"{header}.{payload}.{sig}"  # does not start with eyJ; PyJWT itself refuses a kid that is not a string
    for token in (whole, odd):
        text = redact.redact_text(f"x host.example.{token}.tail {token}")
        assert token not in text and text.count(f"<jwt {redact.fingerprint(token)} header=") == 2


def test_a_token_nested_in_a_claim_is_only_hashed_and_views_are_cut():
    inner = jwt.encode({"a": 1}, "k" * 32, algorithm="HS256")
    outer = jwt.encode({"inner": inner, "big": "z" * 5000}, "k" * 32, algorithm="HS256")
    view = redact.token_view(outer)
    assert inner not in view and f"<jwt {redact.fingerprint(inner)}>" in view
    assert len(view) < 2 * redact.VIEW_LIMIT + 100


def test_a_request_secret_echoed_in_a_response_is_blanked_even_json_escaped():
    key = 'key-with-"quote"-and-\\-0123'
    assert redact.request_secrets({"agent_key": key, "agent_id": "abcdefgh"}) == [key]
    echoed = json.dumps({"input": {"agent_key": key}})
    assert key not in redact.redact_text(echoed, [key]) and json.dumps(key)[1:-1] not in redact.redact_text(echoed, [key])


def test_a_junk_authorization_header_shows_its_odd_characters_and_never_more_of_a_token():
    from conformance.wire.redact import raw_text, redact_header

    jwt_like = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln"
    shown = redact_header("Authorization", f"Bearer {jwt_like}\x01\x7f\"<>")
    assert jwt_like not in shown and shown.endswith('followed by "\\u0001\\u007f\\"<>"')
    assert redact_header("Authorization", "") == "(empty)"
    assert "SECRET" not in redact_header("Authorization", "Bearer abc.def.ghi!SECRET")  # only the odd characters of what follows
    assert redact_header("Authorization", f"Token {jwt_like}").startswith("Token <token sha256:")
    # a raw body: secrets blanked before the cut, bytes that are not UTF-8 made visible
    body = ('{"agent_key": "k-123456789", "x": "' + "a" * 3000 + '"}').encode() + b"\xff"
    text = raw_text(body, ["k-123456789"], 100)
    assert "k-123456789" not in text and text.endswith(f"…(cut: {len(body)} bytes)")
    assert raw_text(b'{"a": "\xff\xfe"}') == '{"a": "\\xff\\xfe"}'


def test_redaction_is_linear_on_a_long_run_without_dots():
    import time

    from conformance.wire.redact import redact_text

    started = time.monotonic()
    assert redact_text("a" * 200_000 + ".b") == "a" * 200_000 + ".b"  # the quadratic pattern took minutes here
    assert time.monotonic() - started < 1.0
