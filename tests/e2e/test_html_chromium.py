"""The suite's HTML report in a real browser (headless Chromium): its first screen (1400 × 900)
shows the verdict banner and the first failing requirement, and nothing in it runs, not even a
script and an <img onerror> the target sent."""
from __future__ import annotations

import html as html_lib
import json
import os
import re
import shutil
import struct
import subprocess

import pytest

from conformance.report import page
from support.suite_run import run_suite

# one MUST broken (replayed proofs accepted) and one SHOULD (problems without request_id)
FAULTY = "model:required:accept-replay,problem-no-request-id"
WIDTH, HEIGHT = 1400, 900
PAYLOAD = "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned-img'\">"
# appended to a copy without the CSP: writes where the banner and the first failing requirement end
MEASURE = """<script>
const bottom = (el) => el ? Math.ceil(el.getBoundingClientRect().bottom + window.scrollY) : -1;
const out = document.createElement("output");
out.id = "measured";
out.textContent = JSON.stringify({banner: bottom(document.getElementById("verdict")),
  requirement: bottom(document.querySelector("#failures details.req > summary")),
  requirement_id: (document.querySelector("#failures details.req") || {}).id || null,
  width: window.innerWidth});
document.body.appendChild(out);
</script>"""


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path:
        return path
    message = "chromium is not installed (scripts/lib.sh ensure_chromium_installed installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)  # CI must check the report in a browser, never skip it silently
    pytest.skip(message)


def browse(url: str, profile, *extra: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
         f"--window-size={WIDTH},{HEIGHT}", *extra, url],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def dump_dom(path, profile) -> str:
    dom = browse(path.as_uri(), profile, "--virtual-time-budget=3000", "--dump-dom").stdout
    assert "</html>" in dom
    return dom


def title(dom: str) -> str:
    return html_lib.unescape(re.search(r"<title>(.*?)</title>", dom, re.S).group(1))


@pytest.fixture(scope="module")
def faulty_run(tmp_path_factory):
    run = run_suite(tmp_path_factory.mktemp("chromium-run"), "--target-url", FAULTY, "--fuzz-examples", "5",
                    "--stateful-examples", "2", timeout=300)
    assert run.returncode == 1 and run.doc is not None, run.stdout[-2000:] + run.stderr[-2000:]
    counts = run.doc["counts"]
    assert counts["fail"] and counts["warn"]
    return run


def test_the_screenshot_is_one_first_screen(faulty_run, tmp_path):
    shot = tmp_path / "first-screen.png"
    browse(faulty_run.html_path.as_uri(), tmp_path / "profile", f"--screenshot={shot}")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == (WIDTH, HEIGHT)


def test_the_first_screen_shows_the_banner_and_the_first_failing_requirement(faulty_run, tmp_path):
    text = faulty_run.html_path.read_text(encoding="utf-8")
    csp = re.compile(r'<meta http-equiv="Content-Security-Policy"[^>]*>')
    assert csp.search(text)
    measured_page = tmp_path / "measured.html"
    measured_page.write_text(csp.sub("", text).replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    dom = dump_dom(measured_page, tmp_path / "profile")
    found = re.search(r'<output id="measured">(.*?)</output>', dom)
    assert found, "the measuring script did not run"
    m = json.loads(html_lib.unescape(found.group(1)))
    # the layout depends on the width (--dump-dom's viewport is shorter than the window; the
    # positions are from the top of the page, so the first screen is the first HEIGHT pixels)
    assert m["width"] == WIDTH
    assert m["requirement_id"] == "req-PROOF-replay"  # the MUST failure comes before the SHOULD warnings
    assert 0 < m["banner"] < m["requirement"] <= HEIGHT, m


def test_nothing_the_target_sent_runs_in_the_report(faulty_run, tmp_path):
    doc = faulty_run.doc
    doc["target"]["server_version"] = PAYLOAD
    failing = next(c for c in doc["checks"] if c["verdict"] == "fail")
    failing["message"] = PAYLOAD
    failing["exchanges"][0]["body"] = PAYLOAD
    report = tmp_path / "hostile.html"
    page.write(report, doc)
    expected = title(report.read_text(encoding="utf-8"))
    dom = dump_dom(report, tmp_path / "profile")
    assert title(dom) == expected and "pwned" not in expected
    assert "document.title='pwned'" in html_lib.unescape(dom)  # the payload is on the page, as text

    control = tmp_path / "control.html"  # the detector's positive control: the payload as markup does run
    control.write_text(f"<!doctype html><html><head><title>t</title></head><body>{PAYLOAD}</body></html>", encoding="utf-8")
    assert title(dump_dom(control, tmp_path / "profile-control")).startswith("pwned")
