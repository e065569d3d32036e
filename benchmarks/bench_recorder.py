"""pytest plugin for benchmarks/bench.py: records every request the suite sends to the target.

Loaded with `-p bench_recorder` (benchmarks/ on PYTHONPATH) when ARCP_BENCH_RECORD names a file.
It wraps conformance.wire.client.TargetClient._send_once (the one place the suite's requests leave)
without editing the package, and at the end of the run writes a JSON list of
{method, url, headers, body, status, t (epoch at send), elapsed} to that file, in the order they were sent,
and to FILE.end the time at which pytest had finished (unconfigure).
The body is the bytes _send_once puts on the wire (json.dumps of the JSON body), as text.
"""
from __future__ import annotations

import base64
import json
import os
import time

import pytest

from conformance.wire import client as _target

_RECORDS: list[dict] = []
_PATH = os.environ.get("ARCP_BENCH_RECORD")


def _install() -> None:
    original = _target.TargetClient._send_once
    if getattr(original, "_bench_wrapped", False):
        return

    def _send_once(self, method, url, headers, json_body, raw_body=None):
        wall, started = time.time(), time.perf_counter()
        exchange = original(self, method, url, headers, json_body, raw_body)
        send_headers = [list(h) for h in headers]
        body = body_b64 = None
        if raw_body is not None:  # a malformed request's exact bytes (maybe not UTF-8) and its Content-Type
            body_b64 = base64.b64encode(raw_body.content or b"").decode("ascii")
            if raw_body.content_type is not None:
                send_headers.append(["Content-Type", raw_body.content_type])
        elif json_body is not None:
            body = json.dumps(json_body)
            send_headers.append(["Content-Type", "application/json"])
        _RECORDS.append({
            "body_b64": body_b64,
            "method": method,
            "url": url,
            "headers": send_headers,
            "body": body,
            "status": exchange.status,
            "t": wall,
            "elapsed": time.perf_counter() - started,
            "content_type": exchange.header("content-type") if exchange.status is not None else None,
            "response": exchange.body_text if exchange.status in (400, 401, 403) else None,
        })
        return exchange

    _send_once._bench_wrapped = True
    _target.TargetClient._send_once = _send_once


# Installed at import: `-p` imports this module before pytest_configure, where the plugin's
# session already talks to the target (mode detection, discovery).
if _PATH:
    _install()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    if not _PATH:
        return
    with open(_PATH, "w", encoding="utf-8") as fh:
        json.dump(_RECORDS, fh)
    with open(_PATH + ".end", "w", encoding="utf-8") as fh:
        fh.write(repr(time.time()))  # pytest is done here; the rest is interpreter exit
