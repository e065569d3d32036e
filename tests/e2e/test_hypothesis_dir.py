"""What a run leaves in the current folder besides reports/ (issue 21, item 4): Hypothesis'
caches, in .hypothesis/ by default, where --conformance-hypothesis-dir says, or nowhere ('none');
and a run in a fresh folder (every CI checkout) stays under the memory target."""
from support.suite_run import run_suite

MEMORY_MB = 200  # issue 21's target for every run; a fresh folder cost 300 MB before the alphabet fix
ARGS = ("--target-url", "model:required")


def test_a_fresh_folder_run_keeps_its_caches_where_asked_and_within_the_memory_target(tmp_path):
    fresh = run_suite(tmp_path / "fresh", *ARGS)
    assert fresh.returncode == 0, fresh.stdout[-2000:]
    assert (tmp_path / "fresh" / ".hypothesis" / "unicode_data").is_dir()
    assert fresh.max_rss_mb < MEMORY_MB, f"peak RSS {fresh.max_rss_mb:.0f} MB in a folder without .hypothesis/"

    elsewhere = run_suite(tmp_path / "elsewhere", *ARGS, "--conformance-hypothesis-dir", str(tmp_path / "cache"))
    assert elsewhere.returncode == 0 and (tmp_path / "cache" / "unicode_data").is_dir()
    assert not (tmp_path / "elsewhere" / ".hypothesis").exists()

    nowhere = run_suite(tmp_path / "nowhere", *ARGS, "--conformance-hypothesis-dir", "none")
    assert nowhere.returncode == 0
    assert sorted(p.name for p in (tmp_path / "nowhere").iterdir()) == ["reports"]
