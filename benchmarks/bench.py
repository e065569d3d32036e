"""Benchmark of the conformance suite (issue 7): prints every figure with its target and PASS/MISS.

    bash benchmarks/run                  # from a fresh clone: venvs, upstream, Redis, everything
    .venv/bin/python benchmarks/bench.py # model-target figures only (no upstream)

Figures, all measured in this one run on this machine:

- the full suite's wall time against the embedded strict model target (DPoP required), run as a
  user runs it (`python -m pytest ... --target-url URL --dpop-mode required`, a subprocess);
- the same exchanges, recorded during that run (benchmarks/bench_recorder.py), replayed
  sequentially by a bare httpx.Client against the same, still running, model; and the ratio;
- DPoP proofs per second (conformance.dpop.proofs.build_proof) for EdDSA and ES256;
- problem schema validations per second (conformance.judging.problems);
- phase-1 calls (POST /auth/agent/request_temp_token) per run;
- the wall time with pytest-xdist -n 0 and -n 2 (when pytest-xdist is installed);
- with --upstream-results (benchmarks/run writes them): the suite against upstream arcp-py in
  required mode, with and without Redis: wall time and phase-1 calls; and, as information, the
  same requests replayed by a bare httpx loop against upstream (the overhead ratio against a real
  target) and, without Redis, the speed-up of -n 2.

This measures; it changes nothing in the suite. --json FILE writes the figures machine-readably.
"""
from __future__ import annotations

import argparse
import base64
import datetime as _dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TOKEN_PATH = "/auth/agent/request_temp_token"
TOLERANT_FAULTS = ("accept-replay", "validated-reusable")

# targets from issue 7 (a 2-core machine)
TARGET_RATIO = 1.25
TARGET_EDDSA = 20_000
TARGET_UPSTREAM_PHASE1 = 6
TARGET_UPSTREAM_WALL = 60.0
# targets from issue 17: concurrency inside one run
LATENCY_MS = 20  # the model's injected latency per answer
TARGET_LATENCY_SPEEDUP = 4.0  # N = 8 over N = 1 against the model with that latency
TARGET_PEAK_MB = 200
TARGET_NO_SLOWER = 1.05  # the default concurrency against the model without latency, over N = 1
CONCURRENCY = "--conformance-concurrency"


# --- machine -----------------------------------------------------------------------------------

def machine() -> dict:
    info: dict = {"cpus": os.cpu_count(), "python": platform.python_version(),
                  "implementation": platform.python_implementation(), "kernel": platform.release(),
                  "arch": platform.machine()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        info["cpu_model"] = platform.processor() or "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["ram_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        rel = dict(l.split("=", 1) for l in Path("/etc/os-release").read_text().splitlines() if "=" in l)
        info["os"] = rel.get("PRETTY_NAME", "").strip('"')
    except OSError:
        info["os"] = platform.platform()
    try:
        info["affinity"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    from importlib.metadata import PackageNotFoundError, version
    pkgs = {}
    for name in ("pytest", "httpx", "httpcore", "cryptography", "PyJWT", "jsonschema", "uvicorn", "starlette", "pytest-html", "pytest-xdist"):
        try:
            pkgs[name] = version(name)
        except PackageNotFoundError:
            pass
    info["packages"] = pkgs
    info["load_average_start"] = _load()
    info["PYTHONDONTWRITEBYTECODE"] = os.environ.get("PYTHONDONTWRITEBYTECODE", "")
    return info


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


# --- figures -----------------------------------------------------------------------------------

class Figures:
    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.notes: list[str] = []

    def add(self, key: str, label: str, value, unit: str = "", target: str = "", ok: bool | None = None, note: str = "") -> None:
        status = "" if ok is None else ("PASS" if ok else "MISS")
        row = {"key": key, "label": label, "value": value, "unit": unit, "target": target, "status": status, "note": note}
        self.rows.append(row)
        print(f"  {_fmt_row(row)}", flush=True)

    def table(self) -> str:
        width = max(len(r["label"]) for r in self.rows)
        lines = []
        for r in self.rows:
            value = _fmt_value(r["value"], r["unit"])
            target = r["target"] or "-"
            lines.append(f"{r['label']:<{width}}  {value:>16}  {target:<16} {r['status']:<4}  {r['note']}".rstrip())
        return "\n".join(lines)


def _fmt_value(value, unit: str) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.2f}"
    else:
        text = f"{value:,}" if isinstance(value, int) else str(value)
    return f"{text} {unit}".strip()


def _fmt_row(r: dict) -> str:
    bits = [f"{r['label']}: {_fmt_value(r['value'], r['unit'])}"]
    if r["target"]:
        bits.append(f"(target {r['target']}: {r['status']})")
    if r["note"]:
        bits.append(f"- {r['note']}")
    return " ".join(bits)


# --- running the suite -------------------------------------------------------------------------

def run_suite(url: str, mode: str, env_secrets: dict[str, str], workdir: Path, *, record: Path | None = None,
              extra: list[str] = (), pycache: Path | None = None) -> dict:
    """The suite as a user runs it, in a subprocess; reports go to `workdir`, not reports/.
    `pycache`: let Python (and pytest's assertion rewriter) cache bytecode there, whatever
    PYTHONDONTWRITEBYTECODE says (nothing is written next to the sources)."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(env_secrets)
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH", "")]))
    for name in ("ARCP_CONFORMANCE_TARGET_URL", "ARCP_CONFORMANCE_DPOP_MODE"):
        env.pop(name, None)  # argv says it
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:warnings",
           "--target-url", url, "--dpop-mode", mode,
           "--conformance-json", str(workdir / "conformance.json"),
           "--conformance-html", str(workdir / "conformance.html"),
           "--junitxml", str(workdir / "conformance.junit.xml"), *extra]
    if record is not None:
        cmd[4:4] = ["-p", "bench_recorder"]
        env["ARCP_BENCH_RECORD"] = str(record)
    else:
        env.pop("ARCP_BENCH_RECORD", None)
    started_epoch = time.time()
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+", encoding="utf-8") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(proc.pid, 0)  # the suite's own process: its peak resident memory
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        out.seek(0)
        stdout = out.read()
    tail = [l for l in stdout.splitlines() if l.strip()][-3:]
    result = {"wall": wall, "exit": proc.returncode, "tail": tail, "started": started_epoch, "ended": started_epoch + wall,
              "peak_mb": usage.ru_maxrss / 1024}
    if record is not None and record.exists():
        result["records"] = json.loads(record.read_text(encoding="utf-8"))
        end = Path(str(record) + ".end")
        if end.exists():
            result["unconfigured"] = float(end.read_text())
    elif record is not None:
        result["records"] = []
        print("    (no recording: the suite did not finish?)\n    " + "\n    ".join(stdout.splitlines()[-15:]), flush=True)
    return result


def phase1_calls(records: list[dict]) -> int:
    # well-formed calls only: the malformed-request situations' bodies are refused before phase 1's
    # slow, rate-limited work starts (upstream: at request validation)
    return sum(1 for r in records if r["method"] == "POST" and r["url"].split("?", 1)[0].endswith(TOKEN_PATH)
               and r.get("body_b64") is None)


def breakdown(run: dict) -> dict:
    """Where the suite's wall time went: before the first request, between first and last, after."""
    recs = run.get("records") or []
    if not recs:
        return {}
    first, last = min(r["t"] for r in recs), max(r["t"] + r["elapsed"] for r in recs)
    # union of the request intervals: the suite sends its three phase-1 calls at once
    in_requests, busy_until = 0.0, float("-inf")
    for start, end in sorted((r["t"], r["t"] + r["elapsed"]) for r in recs):
        if end > busy_until:
            in_requests += end - max(start, busy_until)
            busy_until = end
    return {
        "startup": first - run["started"],
        "span": last - first,
        "in_requests": in_requests,
        "between_requests": (last - first) - in_requests,
        "after": run["ended"] - last,
        "exit": run["ended"] - run["unconfigured"] if "unconfigured" in run else None,
    }


def replay(records: list[dict]) -> float:
    """The recorded requests replayed in a process of their own (as the suite runs in one, apart
    from the model's process), timed there: see replay_here."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(records, fh)
    try:
        out = subprocess.run([sys.executable, __file__, "--replay-file", fh.name], cwd=ROOT, check=True,
                             stdout=subprocess.PIPE, text=True).stdout
    finally:
        os.unlink(fh.name)
    return float(out.strip().splitlines()[-1])


def replay_here(records: list[dict]) -> float:
    """The recorded requests, in order, by a bare httpx.Client: the floor for the same exchanges."""
    import httpx

    with httpx.Client(timeout=15.0, follow_redirects=False) as client:
        started = time.perf_counter()
        for r in records:
            content = base64.b64decode(r["body_b64"]) if r.get("body_b64") is not None else (r["body"].encode() if r["body"] is not None else None)
            response = client.request(r["method"], r["url"], headers=[tuple(h) for h in r["headers"]], content=content)
            response.read()
        return time.perf_counter() - started


# --- micro benchmarks --------------------------------------------------------------------------

WINDOWS = 10  # a micro benchmark's time is cut into this many windows


def rate_windows(fn, seconds: float) -> list[float]:
    """Calls per second of `fn` in each of WINDOWS consecutive windows (seconds in all)."""
    fn()  # warm caches (lru_cache'd validators, key objects)
    rates = []
    for _ in range(WINDOWS):
        count, started = 0, time.perf_counter()
        deadline = started + seconds / WINDOWS
        while True:
            for _ in range(100):
                fn()
            count += 100
            now = time.perf_counter()
            if now >= deadline:
                rates.append(count / (now - started))
                break
    return rates


def rate(fn, seconds: float) -> float:
    """The median window's rate: on a shared machine another job's burst spoils a few windows,
    not the figure (the best window is reported too where it matters, see proofs_per_second)."""
    return statistics.median(rate_windows(fn, seconds))


def proofs_per_second(alg: str, seconds: float, with_token: bool = False, windows: bool = False):
    """build_proof's rate (median window), or with windows=True all the window rates."""
    from conformance.dpop.keys import generate_key
    from conformance.dpop.proofs import build_proof

    key = generate_key(alg)
    url = "http://127.0.0.1:8001/agents/register"
    token = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + "eyJzdWIiOiJiZW5jaCJ9" * 12 + ".c2lnbmF0dXJl") if with_token else None
    rates = rate_windows(lambda: build_proof(key, "POST", url, access_token=token), seconds)
    return rates if windows else statistics.median(rates)


def signatures_per_second(seconds: float) -> float:
    """Bare Ed25519 signatures (cryptography) of a proof-sized message: the ceiling for EdDSA
    proofs on this machine at this moment, whatever the code around the signature does."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key, message = Ed25519PrivateKey.generate(), b"x" * 330
    return rate(lambda: key.sign(message), seconds)


DEFAULT_PROBLEM = {
    "type": "https://arcp.0x001.tech/docs/problems/authentication-failed",
    "title": "Authentication Failed",
    "status": 401,
    "detail": "Missing Authorization header",
    "instance": "/agents/register",
    "timestamp": "2025-01-01T00:00:00Z",
    "request_id": "req_0123456789abcdef",
}


def typical_problem(records: list[dict]) -> dict:
    for r in records:
        if r.get("status") == 401 and "problem+json" in (r.get("content_type") or ""):
            try:
                body = json.loads(r["response"])
            except (TypeError, ValueError):
                continue
            if isinstance(body, dict) and "type" in body:
                return body
    return DEFAULT_PROBLEM


# --- main --------------------------------------------------------------------------------------

def model_figures(fig: Figures, args, work: Path) -> list[dict]:
    from conformance.model_target import start_model

    model = start_model("required", ())
    secrets = {"ARCP_CONFORMANCE_AGENT_KEY": model.config.agent_key, "ARCP_CONFORMANCE_JWT_SECRET": model.config.jwt_secret}
    records: list[dict] = []
    tolerant = None
    try:
        print(f"model target (strict, DPoP required) at {model.url}", flush=True)
        walls, first, peaks = [], None, []
        for i in range(args.repeat):
            run = run_suite(model.url, "required", secrets, work / f"model-{i}", record=work / f"model-{i}.json")
            walls.append(run["wall"])
            peaks.append(run["peak_mb"])
            print(f"    suite run {i + 1}/{args.repeat}: {run['wall']:.2f} s, exit {run['exit']}: {run['tail'][-1] if run['tail'] else ''}", flush=True)
            first = first or run
        records = first.get("records") or []
        wall = statistics.median(walls)
        fig.add("model_suite_wall", "suite wall time, model target (required)", wall, "s",
                note=f"median of {len(walls)}: " + ", ".join(f"{w:.2f}" for w in walls) + f"; exit {first['exit']}; default concurrency")
        fig.add("model_peak_mb", "peak memory, suite against the model", max(peaks), "MB", f"<= {TARGET_PEAK_MB}",
                max(peaks) <= TARGET_PEAK_MB, "the suite's process (the model runs in the benchmark's)")
        fresh = run_suite(model.url, "required", secrets, work / "model-fresh", extra=["--conformance-hypothesis-dir", "none"])
        fig.add("model_fresh_peak_mb", "peak memory, model, no .hypothesis/ (every CI checkout)", fresh["peak_mb"], "MB",
                f"<= {TARGET_PEAK_MB}", fresh["peak_mb"] <= TARGET_PEAK_MB,
                f"exit {fresh['exit']}; --conformance-hypothesis-dir none: Hypothesis' caches in a new temporary folder")
        print(f"    fresh Hypothesis folder: {fresh['wall']:.2f} s, exit {fresh['exit']}, peak {fresh['peak_mb']:.0f} MB", flush=True)
        n1 = [run_suite(model.url, "required", secrets, work / f"model-n1-{i}", extra=[CONCURRENCY, "1"])["wall"]
              for i in range(args.repeat)]
        fig.add("model_suite_wall_n1", "suite wall time, model, --conformance-concurrency 1", statistics.median(n1), "s",
                f"default <= {TARGET_NO_SLOWER} x this", wall <= TARGET_NO_SLOWER * statistics.median(n1),
                f"median of {len(n1)}: " + ", ".join(f"{w:.2f}" for w in n1) + "; the default must be no slower than one request at a time")
        parts = breakdown(first)
        if parts:
            fig.add("model_suite_breakdown", "  of which: start-up before 1st request", parts["startup"], "s")
            fig.add("model_suite_span", "  of which: 1st to last request", parts["span"], "s",
                    note=f"{parts['in_requests']:.2f} s with a request in flight, {parts['between_requests']:.2f} s with none")
            fig.add("model_suite_after", "  of which: after last request (reports, exit)", parts["after"], "s",
                    note=f"{parts['exit']:.2f} s of it after pytest's unconfigure (interpreter exit)" if parts.get("exit") is not None else "")
        fig.add("model_requests", "requests sent per run (model)", len(records))
        if records:
            strict = statistics.median([replay(records) for _ in range(args.repeat)])
            # The same requests again, with the model told to accept replayed proofs and reused validated
            # tokens (its own fault switches, flipped on the running server): closer to the original work.
            faults = model.config.faults
            object.__setattr__(model.config, "faults", frozenset(TOLERANT_FAULTS))
            try:
                tolerant_runs = [replay(records) for _ in range(args.repeat)]
            finally:
                object.__setattr__(model.config, "faults", faults)
            tolerant = statistics.median(tolerant_runs)
            fig.add("model_bare_replay", "bare httpx replay of the same requests", tolerant, "s",
                    note=f"median of {len(tolerant_runs)}: " + ", ".join(f"{w:.2f}" for w in tolerant_runs)
                    + "; model accepting replays (" + ", ".join(TOLERANT_FAULTS) + ")")
            ratio = wall / tolerant
            fig.add("overhead_ratio", "overhead ratio (suite / bare replay)", ratio, "x", f"<= {TARGET_RATIO}", ratio <= TARGET_RATIO)
            fig.add("model_bare_replay_strict", "bare replay, strict model (refuses replays)", strict, "s",
                    note=f"ratio {wall / strict:.1f} x")
            in_req = parts.get("in_requests") if parts else None
            if in_req:
                fig.add("model_request_ratio", "time in requests / bare replay", in_req / tolerant, "x",
                        note="time with a request in flight / bare replay; start-up and reports left out")
            fig.notes.append("The replay resends the recorded requests byte for byte, so proofs carry used jtis and "
                             "validated tokens are used again: the headline replay runs with the model's faults "
                             + " and ".join(TOLERANT_FAULTS) + " switched on for its duration so that the server does "
                             "about the same work as in the suite's run; the strict model refuses them as replays "
                             "(earlier refusals: less server work). Either way the agent endpoint the server calls back "
                             "in phase 2 is gone by then, so that callback fails fast.")
        else:
            fig.add("overhead_ratio", "overhead ratio (suite / bare replay)", None, "x", f"<= {TARGET_RATIO}", False, "no recording")
        fig.add("model_phase1", "phase-1 calls per run (model)", phase1_calls(records))

        def variant(key: str, label: str, how: str, **run_args) -> None:
            """The suite run another way, --repeat times: its median wall time and ratio to the replay."""
            walls = [run_suite(model.url, "required", secrets, work / f"{key}-{i}", **run_args)["wall"] for i in range(args.repeat)]
            wall = statistics.median(walls)
            note = f"median of {len(walls)}: " + ", ".join(f"{w:.2f}" for w in walls) + f"; {how}"
            if records and tolerant:
                note += f"; ratio to the bare replay {wall / tolerant:.2f} x"
            fig.add(key, label, wall, "s", note=note)

        if os.environ.get("PYTHONDONTWRITEBYTECODE"):
            # This environment forbids bytecode caches: every run compiles the package and pytest
            # re-rewrites the asserts of every plugin's modules (hypothesis, anyio, pytest-html,
            # ours: ~170). The same runs as on a machine that caches bytecode (the first warms it).
            pycache = work / "pycache"
            run_suite(model.url, "required", secrets, work / "cached-warm", pycache=pycache)
            variant("model_suite_wall_cached", "suite wall time, model, bytecode cached", "PYTHONDONTWRITEBYTECODE unset, warm cache",
                    pycache=pycache)
        # The suite's checks judge without assert statements, so pytest's assertion rewriting (of
        # every module of every plugin's distribution) is pure start-up cost for a conformance run.
        variant("model_suite_wall_plain", "suite wall time, model, --assert=plain", "no assertion rewriting", extra=["--assert=plain"])

        # pytest-xdist
        try:
            import xdist  # noqa: F401
        except ImportError:
            fig.add("xdist_n0", "suite wall, pytest-xdist -n 0", None, "s", note="n/a: pytest-xdist not installed")
            fig.add("xdist_n2", "suite wall, pytest-xdist -n 2", None, "s", note="n/a: pytest-xdist not installed")
            fig.add("xdist_speedup", "speed-up -n 2 over -n 0 (model)", None, "x", note="n/a: pytest-xdist not installed")
        else:
            # -n 0 and -n 2 in turn (so that a change in the machine's load hits both alike), median of
            # --repeat each; both against the same running model, each worker with its own session
            walls: dict[int, list[float]] = {0: [], 2: []}
            exits: dict[int, set] = {0: set(), 2: set()}
            verdicts: dict[int, dict] = {}
            loads = [os.getloadavg()[0]]
            for i in range(args.repeat):
                for n in (0, 2):
                    run = run_suite(model.url, "required", secrets, work / f"xdist-n{n}-{i}", extra=["-n", str(n)])
                    walls[n].append(run["wall"])
                    exits[n].add(run["exit"])
                    doc = work / f"xdist-n{n}-{i}" / "conformance.json"
                    if doc.exists():
                        verdicts.setdefault(n, {c["id"]: c["verdict"] for c in json.loads(doc.read_text(encoding="utf-8"))["checks"]})
                    loads.append(os.getloadavg()[0])
                    print(f"    xdist -n {n} run {i + 1}/{args.repeat}: {run['wall']:.2f} s, exit {run['exit']}", flush=True)
            n0, n2 = statistics.median(walls[0]), statistics.median(walls[2])
            load = f"load average (1 min) {min(loads):.1f}-{max(loads):.1f} during the runs"
            fig.add("xdist_n0", "suite wall, pytest-xdist -n 0", n0, "s",
                    note=f"median of {len(walls[0])}: " + ", ".join(f"{w:.2f}" for w in walls[0]) + f"; exit {sorted(exits[0])}")
            fig.add("xdist_n2", "suite wall, pytest-xdist -n 2", n2, "s",
                    note=f"median of {len(walls[2])}: " + ", ".join(f"{w:.2f}" for w in walls[2]) + f"; exit {sorted(exits[2])}; {load}")
            same = exits[0] == exits[2] and len(exits[0]) == 1 and verdicts.get(0) == verdicts.get(2) and bool(verdicts.get(0))
            speedup = n0 / n2
            fig.add("xdist_speedup", "speed-up -n 2 over -n 0 (model)", speedup, "x",
                    note=("same checks, verdicts and exit codes" if same else "checks, verdicts or exit codes differ between -n 0 and -n 2")
                    + "; information only: its target is retired (issue 17), extra processes are not the lever on two cores")
    finally:
        model.close()
    return records


def verdicts_of(workdir: Path) -> dict[str, str]:
    doc = workdir / "conformance.json"
    if not doc.exists():
        return {}
    return {c["id"]: c["verdict"] for c in json.loads(doc.read_text(encoding="utf-8"))["checks"]}


def latency_figures(fig: Figures, args, work: Path) -> None:
    """The suite against the model answering LATENCY_MS late, as over a network, with one request
    in flight and with eight: what overlapping independent situations buys."""
    from conformance.model_target import start_model

    model = start_model("required", (), latency_ms=LATENCY_MS)
    secrets = {"ARCP_CONFORMANCE_AGENT_KEY": model.config.agent_key, "ARCP_CONFORMANCE_JWT_SECRET": model.config.jwt_secret}
    try:
        print(f"model target with {LATENCY_MS} ms latency per answer at {model.url}", flush=True)
        runs = {}
        for n in (1, 8):
            runs[n] = run_suite(model.url, "required", secrets, work / f"latency-n{n}", extra=[CONCURRENCY, str(n)])
            print(f"    N = {n}: {runs[n]['wall']:.2f} s, exit {runs[n]['exit']}, peak {runs[n]['peak_mb']:.0f} MB", flush=True)
            fig.add(f"latency_n{n}_wall", f"suite wall time, model +{LATENCY_MS} ms, N = {n}", runs[n]["wall"], "s",
                    note=f"exit {runs[n]['exit']}; peak memory {runs[n]['peak_mb']:.0f} MB")
        same = verdicts_of(work / "latency-n1") == verdicts_of(work / "latency-n8") and bool(verdicts_of(work / "latency-n1"))
        speedup = runs[1]["wall"] / runs[8]["wall"]
        fig.add("latency_speedup", f"speed-up N = 8 over N = 1, model +{LATENCY_MS} ms", speedup, "x",
                f">= {TARGET_LATENCY_SPEEDUP:g}", speedup >= TARGET_LATENCY_SPEEDUP and same,
                "same verdicts at N = 1 and N = 8" if same else "verdicts differ between N = 1 and N = 8")
    finally:
        model.close()


def micro_figures(fig: Figures, args, records: list[dict]) -> None:
    print(f"micro benchmarks (median of {WINDOWS} windows each; load average {_load()})", flush=True)
    windows = proofs_per_second("EdDSA", args.seconds, windows=True)
    eddsa = statistics.median(windows)
    fig.add("proofs_eddsa", "EdDSA proofs per second", eddsa, "/s", f">= {TARGET_EDDSA:,}", eddsa >= TARGET_EDDSA,
            f"build_proof(key, 'POST', url), no access token; windows {min(windows):,.0f}-{max(windows):,.0f} /s")
    fig.add("signatures_eddsa", "bare Ed25519 signatures per second", signatures_per_second(args.seconds), "/s",
            note="cryptography's sign() alone, same message size: the ceiling for the figure above right now")
    fig.add("proofs_eddsa_ath", "EdDSA proofs per second, with ath", proofs_per_second("EdDSA", args.seconds, True), "/s")
    fig.add("proofs_es256", "ES256 proofs per second", proofs_per_second("ES256", args.seconds), "/s")
    fig.add("proofs_es256_ath", "ES256 proofs per second, with ath", proofs_per_second("ES256", args.seconds, True), "/s")

    from conformance.judging import problems

    body = typical_problem(records)
    slugs = ("authentication-failed",)
    try:
        problems.type_errors(slugs, body)
    except Exception:  # the catalogue may name it differently: fall back to any known slug
        from conformance.spec.catalogue import problem_types
        slugs = (sorted(problem_types())[0],)
    fig.add("schema_arcp_problem", "schema validations/s, arcp-problem", rate(lambda: problems.schema_errors("arcp-problem", body), args.seconds), "/s",
            note="problems.schema_errors on a 401 body the model sent")
    fig.add("schema_recommended", "schema validations/s, arcp-problem-recommended",
            rate(lambda: problems.schema_errors("arcp-problem-recommended", body), args.seconds), "/s")
    fig.add("schema_type", "schema validations/s, expected type", rate(lambda: problems.type_errors(slugs, body), args.seconds), "/s")
    fig.add("schema_per_problem", "problem bodies judged/s (all three)",
            rate(lambda: (problems.schema_errors("arcp-problem", body), problems.schema_errors("arcp-problem-recommended", body),
                          problems.type_errors(slugs, body)), args.seconds), "/s")


def upstream_part(args) -> None:
    """Run by benchmarks/run inside with_upstream: the suite against the upstream it started."""
    url = os.environ.get("ARCP_CONFORMANCE_TARGET_URL")
    if not url:
        sys.exit("--upstream-part needs ARCP_CONFORMANCE_TARGET_URL (benchmarks/run sets it)")
    secrets = {k: os.environ[k] for k in ("ARCP_CONFORMANCE_AGENT_KEY", "ARCP_CONFORMANCE_JWT_SECRET") if k in os.environ}
    work = Path(tempfile.mkdtemp(prefix="arcp-bench-upstream-"))
    print(f"{args.upstream_part}: suite against {url} (DPoP required)", flush=True)
    # with its committed baseline, as CI gates it: exit 0 says the verdicts are the baseline's
    gate = ["--baseline", args.baseline, "--conformance-strict"] if args.baseline else []
    run = run_suite(url, "required", secrets, work, record=work / "record.json", extra=gate)
    records = run.pop("records", [])
    out = {"label": args.upstream_part, "baseline": args.baseline, "wall": run["wall"], "exit": run["exit"], "tail": run["tail"], "peak_mb": run["peak_mb"],
           "requests": len(records), "phase1": phase1_calls(records), "breakdown": breakdown({**run, "records": records}),
           "slowest": sorted(({"method": r["method"], "path": r["url"].split("/", 3)[-1], "elapsed": r["elapsed"]} for r in records),
                             key=lambda r: -r["elapsed"])[:5],
           "time_in_phase1": breakdown({**run, "records": [r for r in records if r["url"].endswith(TOKEN_PATH)]}).get("span", 0.0),
           "phase2_polls": sum(1 for r in records if r["method"] == "GET" and "/auth/agent/validation/" in r["url"]),
           "phase2_validations": sum(1 for r in records if r["method"] == "POST" and r["url"].endswith("/auth/agent/validate_compliance"))}
    try:  # where the time went, as the run itself reports it
        doc = json.loads((work / "conformance.json").read_text(encoding="utf-8"))
        out["fuzz_seconds"] = (doc.get("fuzz") or {}).get("elapsed_seconds")
        sm = doc.get("stateful") or {}
        out["stateful"] = {k: sm.get(k) for k in ("elapsed_seconds", "examples", "steps", "examples_requested")}
    except (OSError, ValueError):
        pass
    print(f"    {run['wall']:.2f} s, exit {run['exit']}, {out['requests']} requests, {out['phase1']} phase-1 calls: "
          f"{run['tail'][-1] if run['tail'] else ''}", flush=True)
    # The same requests by a bare httpx loop against the same upstream: the floor for a real target.
    # Not when phase 1 refused anything: upstream counts refusals per client IP towards a lockout.
    refused = [r["status"] for r in records if r["url"].split("?", 1)[0].endswith(TOKEN_PATH) and r["status"] not in (200, 201)]
    if records and not refused:
        out["replay"] = replay(records)
        print(f"    bare httpx replay of the same requests: {out['replay']:.2f} s (ratio {run['wall'] / out['replay']:.2f} x)", flush=True)
    elif refused:
        out["replay_skipped"] = f"phase 1 answered {sorted(set(refused))} in the run"
    if args.xdist:  # where the target's time dominates, does a second worker help?
        spread = run_suite(url, "required", secrets, work / "xdist", extra=["-n", "2"])
        out["xdist"] = {"wall": spread["wall"], "exit": spread["exit"]}
        print(f"    -n 2: {spread['wall']:.2f} s, exit {spread['exit']} (speed-up {run['wall'] / spread['wall']:.2f} x)", flush=True)
    Path(args.out).write_text(json.dumps(out, indent=1), encoding="utf-8")
    shutil.rmtree(work, ignore_errors=True)


def upstream_figures(fig: Figures, paths: list[str]) -> None:
    for path in paths:
        part = json.loads(Path(path).read_text(encoding="utf-8"))
        label = part["label"]
        key = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
        b = part.get("breakdown") or {}
        fig.add(f"{key}_wall", f"suite wall time, {label} (required)", part["wall"], "s", f"<= {TARGET_UPSTREAM_WALL:.0f} s",
                part["wall"] <= TARGET_UPSTREAM_WALL,
                (f"exit {part['exit']} with {Path(part['baseline']).name} (0 = the committed baseline's verdicts); " if part.get("baseline")
                 else f"exit {part['exit']} (1 = MUST broken, expected); ") + f"{part['requests']} requests, "
                f"{b.get('in_requests', 0):.1f} s with a request in flight ({part.get('time_in_phase1', 0):.1f} s of it phase 1), "
                f"{b.get('between_requests', 0):.1f} s with none; {part.get('phase2_polls', '?')} phase-2 polls "
                f"for {part.get('phase2_validations', '?')} validate_compliance calls"
                + (f"; the state machine {sm['elapsed_seconds']:.1f} s ({sm['examples']} examples for {sm['examples_requested']} requested, "
                   f"{sm['steps']} steps)" if (sm := part.get("stateful")) and sm.get("elapsed_seconds") is not None else "")
                + (f", the fuzzing {part['fuzz_seconds']:.1f} s" if part.get("fuzz_seconds") is not None else ""))
        if part.get("peak_mb") is not None:
            fig.add(f"{key}_peak_mb", f"peak memory, {label}", part["peak_mb"], "MB", f"<= {TARGET_PEAK_MB}", part["peak_mb"] <= TARGET_PEAK_MB)
        fig.add(f"{key}_phase1", f"phase-1 calls per run, {label}", part["phase1"], "", f"<= {TARGET_UPSTREAM_PHASE1}",
                part["phase1"] <= TARGET_UPSTREAM_PHASE1)
        if part.get("replay"):
            fig.add(f"{key}_replay", f"bare httpx replay of the same requests, {label}", part["replay"], "s",
                    note="sequential, so phase 1's three calls take 3 × 1.8 s here (the suite sends them at once)")
            fig.add(f"{key}_ratio", f"overhead ratio against {label} (suite / bare replay)", part["wall"] / part["replay"], "x",
                    note="informative: the target is judged against the strict model"
                    + ("; the suite waits for upstream's asynchronous validation, the replay does not" if "Redis" in label and "no Redis" not in label else ""))
        elif part.get("replay_skipped"):
            fig.notes.append(f"{label}: no replay ({part['replay_skipped']}).")
        if part.get("xdist"):
            x = part["xdist"]
            fig.add(f"{key}_xdist", f"speed-up -n 2 over -n 0, {label}", part["wall"] / x["wall"], "x",
                    note=f"informative: -n 2 {x['wall']:.2f} s, exit {x['exit']}; six phase-1 calls (three per worker)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    ap.add_argument("--repeat", type=int, default=3, help="suite runs and replays against the model (median; default 3)")
    ap.add_argument("--seconds", type=float, default=2.0, help="duration of each micro benchmark (default 2)")
    ap.add_argument("--upstream-results", nargs="*", default=[], metavar="FILE", help="results of --upstream-part runs to include")
    ap.add_argument("--upstream-part", metavar="LABEL", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--baseline", help=argparse.SUPPRESS)  # with --upstream-part: gate on it
    ap.add_argument("--xdist", action="store_true", help=argparse.SUPPRESS)  # with --upstream-part: also time -n 2
    ap.add_argument("--replay-file", help=argparse.SUPPRESS)
    ap.add_argument("--profile", metavar="FILE", help="also profile one in-process run against the model (benchmarks/profile_suite.py) into FILE")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))

    if args.replay_file:
        print(replay_here(json.loads(Path(args.replay_file).read_text(encoding="utf-8"))))
        return 0
    if args.upstream_part:
        upstream_part(args)
        return 0

    started = _dt.datetime.now().astimezone()
    info = machine()
    print(f"arcp-conformance benchmark, {started:%Y-%m-%d %H:%M %Z}")
    print(f"machine: {info.get('cpu_model')}, {info['cpus']} CPUs, {info.get('ram_gib')} GiB RAM, {info.get('os')}, "
          f"Python {info['python']}; load average {info['load_average_start']}"
          + ("; PYTHONDONTWRITEBYTECODE set" if info["PYTHONDONTWRITEBYTECODE"] else "") + "\n", flush=True)
    fig = Figures()
    work = Path(tempfile.mkdtemp(prefix="arcp-bench-"))
    records = model_figures(fig, args, work)
    latency_figures(fig, args, work)
    shutil.rmtree(work, ignore_errors=True)
    micro_figures(fig, args, records)
    if args.upstream_results:
        print("upstream arcp-py (measured by benchmarks/run before this)", flush=True)
        upstream_figures(fig, args.upstream_results)
    else:
        fig.notes.append("Upstream figures not measured: run `bash benchmarks/run` for them.")

    print(f"\nload average at the end: {_load()} (at the start: {info['load_average_start']})")
    print("\n=== figures ===")
    print(fig.table())
    missed = [r["label"].strip() for r in fig.rows if r["status"] == "MISS"]
    print(f"\ntargets: {sum(r['status'] == 'PASS' for r in fig.rows)} met, {len(missed)} missed" + (f": {'; '.join(missed)}" if missed else ""))
    for note in fig.notes:
        print(f"note: {note}")

    if args.profile:
        print(f"\nprofiling one in-process run against the model into {args.profile}", flush=True)
        subprocess.run([sys.executable, str(HERE / "profile_suite.py"), "--out", args.profile], cwd=ROOT, check=False)

    if args.json:
        info["load_average_end"] = _load()
        doc = {"format": "arcp-conformance/bench-v1", "date": started.isoformat(timespec="seconds"), "machine": info,
               "command": " ".join([Path(sys.executable).name, *sys.argv]), "figures": fig.rows, "notes": fig.notes}
        Path(args.json).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
