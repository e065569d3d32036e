"""The pytest plugin: options (options), start-up and shutdown (startup), collection
(collection), verdicts as pytest outcomes (outcomes), the end of a run (finish), the console and
HTML (console), pytest-xdist (xdist, scheduling), all wired by the hooks module (hooks), which
the `pytest11` entry point registers."""
