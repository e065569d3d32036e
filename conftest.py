"""Project-level pytest configuration. The ARCP plugin itself registers through the pytest11 entry point (conformance/pytest_plugin/hooks.py)."""
