"""The README's first screen gets a newcomer to a finished demo: what the suite is, the one-line
demo against the model, "against your server" in three lines, the quick start; every page it
links exists. (CI runs the demo line as written, from a fresh clone: .ci/run.)"""
import re

from conformance.spec.catalogue import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
FIRST_SCREEN = "\n".join(README.splitlines()[:50])
QUICK_START = ("bash scripts/run-upstream-conformance required", "bash scripts/selftest")


def code_blocks(text: str) -> list[list[str]]:
    return [block.strip().splitlines() for block in re.findall(r"^```\n(.*?)^```", text, re.S | re.M)]


def test_first_screen_has_the_demo_your_server_and_the_quick_start():
    blocks = code_blocks(FIRST_SCREEN)
    assert any(len(b) == 1 and b[0].endswith("pytest --target-url model:required") for b in blocks), "the one-line demo"
    assert any(len(b) == 3 and b[-1].startswith("pytest --target-url https://") for b in blocks), "your server in three lines"
    assert list(QUICK_START) in blocks, "the two quick-start commands"


def test_quick_start_scripts_exist():
    for command in QUICK_START:
        assert (ROOT / command.split()[1]).is_file(), command


def test_every_linked_page_exists():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if not target.startswith(("http://", "https://")):
                assert (page.parent / target).exists(), f"{page.name} links {target}"
