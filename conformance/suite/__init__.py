"""The conformance checks, collected only when --target-url is given."""
