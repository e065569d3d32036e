"""The pytest hooks of the plugin, registered through the `pytest11` entry point (installing the
package is enough). Each hook only hands over to the module that does the job."""
from __future__ import annotations

from pathlib import Path

import pytest

from ..wire.session import ConformanceSession
from . import collection, console, finish, junit, options, startup, xdist
from .state import RECORD_KEY, state


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "arcp_check(id): an ARCP conformance check")
    startup.configure(config)
    if not xdist.is_worker(config):  # the process that writes the JUnit file
        config.pluginmanager.register(junit.JunitRewrite(), "arcp-conformance-junit")


def pytest_unconfigure(config: pytest.Config) -> None:
    startup.unconfigure(config)


def pytest_sessionstart(session: pytest.Session) -> None:
    console.record_environment(session.config)


def pytest_report_header(config: pytest.Config) -> list[str]:
    return console.report_header(config)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    return collection.ignore_collect(collection_path, config)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    collection.order_items(config, items)


def pytest_collection_finish(session: pytest.Session) -> None:
    collection.send_ahead(session.config, session.items)


@pytest.fixture(scope="session")
def arcp_session(pytestconfig: pytest.Config, record_testsuite_property) -> ConformanceSession:
    return collection.session_fixture(pytestconfig, record_testsuite_property)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    outcome = yield
    report = outcome.get_result()
    entry = item.stash.get(RECORD_KEY, None)
    if entry is None or report.when != "call":
        return
    if xdist.is_worker(item.config):  # the controller writes results, reproducers and baseline
        file = entry["reproducer"] and entry["reproducer"].get("plan_file")
        text = state(item.config).reproducers.get(file) if file else None
        xdist.send_record(report, entry, (file, text) if text else None)
    console.annotate_report(item, report, entry)


def pytest_runtest_logreport(report) -> None:
    xdist.receive_record(report)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    finish.finish(session)
    state(session.config).exit_status = int(session.exitstatus)


def pytest_report_teststatus(report, config: pytest.Config):
    return console.report_teststatus(report, config)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if not xdist.is_worker(config):
        console.terminal_summary(terminalreporter, config)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    if not options.option(config, "target-url"):
        return None
    return xdist.make_scheduler(config, log)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    xdist.node_down(node)


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_summary(prefix: list, summary: list, postfix: list, session: pytest.Session) -> None:
    postfix.extend(console.pytest_html_pointer(session.config))


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_header(cells: list) -> None:
    console.table_header(cells)


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_row(report, cells: list) -> None:
    console.table_row(report, cells)


@pytest.hookimpl(optionalhook=True)
def pytest_html_report_title(report) -> None:
    report.title = "ARCP conformance report"
