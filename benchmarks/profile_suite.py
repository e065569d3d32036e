"""Where the suite's time goes: one in-process run against the model target, under cProfile.

    .venv/bin/python benchmarks/profile_suite.py [--out bench.prof] [--top 12]

pytest.main(--target-url model:required) runs in the main thread under one profiler; the model
server's thread (uvicorn, started by the plugin) under a second one (uvicorn.Server.run wrapped
here, nothing edited). Prints self time per cost centre (our suite code, the model server, httpx,
uvicorn/starlette, crypto, jsonschema, pytest and its reports, waiting) and the top cumulative
entries of each, and writes OUT (suite thread) and OUT.server (model thread) for pstats/snakeviz.
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CENTRES = [
    ("model server (conformance/model_target)", ("/conformance/model_target/",)),
    ("suite code (conformance/)", ("/conformance/",)),
    ("httpx/httpcore/h11", ("/httpx/", "/httpcore/", "/h11/", "/anyio/", "/sniffio/", "/certifi/")),
    ("uvicorn/starlette/asyncio", ("/uvicorn/", "/starlette/", "/asyncio/")),
    ("crypto (cryptography, PyJWT)", ("/cryptography/", "/jwt/")),
    ("jsonschema/referencing", ("/jsonschema/", "/referencing/", "/rpds/", "/jsonschema_specifications/", "/jsonpointer",
                                "/rfc3339", "/rfc3986", "/fqdn/", "/idna/", "/isoduration/", "/uri_template", "/webcolors/",
                                "/arrow/", "/dateutil/")),
    ("pytest, pluggy, pytest-html, jinja2", ("/_pytest/", "/pluggy/", "/pytest_html/", "/pytest_metadata/", "/jinja2/",
                                             "/markupsafe/", "/pytest/", "/xml/", "/iniconfig/", "/packaging/")),
    ("hypothesis", ("/hypothesis/",)),
]
WAITING = ("poll", "select", "recv", "recv_into", "sleep", "accept", "connect", "wait", "acquire", "epoll", "sendall", "send")


def centre(func: tuple[str, int, str]) -> str:
    filename, _, name = func
    if filename == "~" or filename.startswith("<"):
        if filename == "~" and any(w in name for w in WAITING):
            return "waiting (socket I/O, sleep, locks)"
        if filename.startswith("<frozen"):
            return "imports and other stdlib"
        return "other builtins (json, hashing, re, ...)"
    path = filename.replace("\\", "/")
    for label, needles in CENTRES:
        if any(n in path for n in needles):
            return label
    if "site-packages" in path:
        return "other libraries"
    return "imports and other stdlib"


def summarise(stats: pstats.Stats, title: str, top: int) -> None:
    total = sum(v[2] for v in stats.stats.values())  # self time, sums to the thread's profiled time
    by_centre: dict[str, float] = defaultdict(float)
    for func, (cc, nc, tt, ct, callers) in stats.stats.items():
        by_centre[centre(func)] += tt
    print(f"\n== {title}: {total:.2f} s profiled (self time per cost centre) ==")
    for label, tt in sorted(by_centre.items(), key=lambda kv: -kv[1]):
        print(f"  {tt:7.2f} s  {100 * tt / total:5.1f} %  {label}")
    groups: dict[str, list] = defaultdict(list)
    for func, (cc, nc, tt, ct, callers) in stats.stats.items():
        groups[centre(func)].append((ct, nc, tt, func))
    for label in ("suite code (conformance/)", "model server (conformance/model_target)", "httpx/httpcore/h11",
                  "uvicorn/starlette/asyncio", "jsonschema/referencing", "pytest, pluggy, pytest-html, jinja2",
                  "crypto (cryptography, PyJWT)"):
        entries = sorted(groups.get(label, []), key=lambda e: -e[0])[:top]
        if not entries:
            continue
        print(f"  -- top cumulative, {label}")
        for ct, nc, tt, (filename, line, name) in entries:
            short = filename.split("site-packages/")[-1].replace(str(ROOT) + "/", "")
            print(f"     {ct:7.2f} s cum  {tt:6.2f} s self  {nc:7d} calls  {short}:{line}({name})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "arcp-bench.prof"))
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--mode", default="required")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))

    import pytest
    import uvicorn

    server_prof = cProfile.Profile()
    original_run = uvicorn.Server.run

    def run(self, *a, **k):  # the model's uvicorn thread, profiled from its first instruction
        server_prof.enable()
        try:
            return original_run(self, *a, **k)
        finally:
            server_prof.disable()

    uvicorn.Server.run = run
    work = Path(tempfile.mkdtemp(prefix="arcp-bench-profile-"))
    suite_prof = cProfile.Profile()
    started = time.perf_counter()
    suite_prof.enable()
    code = pytest.main(["-q", "-p", "no:warnings", "--target-url", f"model:{args.mode}", "--dpop-mode", args.mode,
                        "--conformance-json", str(work / "conformance.json"), "--conformance-html", str(work / "conformance.html"),
                        "--junitxml", str(work / "conformance.junit.xml")])
    suite_prof.disable()
    wall = time.perf_counter() - started
    uvicorn.Server.run = original_run
    suite_prof.dump_stats(args.out)
    server_prof.dump_stats(args.out + ".server")
    print(f"\nin-process run against model:{args.mode}: {wall:.2f} s wall (pytest.main, imports of the plugin included), exit {int(code)}")
    summarise(pstats.Stats(args.out), "suite thread (pytest.main)", args.top)
    summarise(pstats.Stats(args.out + ".server"), "model server thread (uvicorn)", args.top)
    print(f"\nprofiles: {args.out} (suite), {args.out}.server (model); e.g. python -m pstats {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
