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
