"""ARCP DPoP conformance suite.

The package is layered; a module imports only from its own layer and the layers below it
(tests/unit/test_layers.py enforces it):

    dpop/           keys, proofs, tokens, malformed bodies, Hypothesis strategies: pure generation, no I/O
    spec/           the contract as data: vocabulary, requirement catalogue, situations, checks
    wire/           I/O with the target: exchanges, the client, flows, the agent endpoint, the session
    judging/        judges over recorded exchanges, the fuzz run and the state machine
    report/         results document, HTML, baselines, diff, reproducers, the requirements document
    pytest_plugin/  the pytest plugin: options, collection, outcomes, xdist, hooks

model_target/ (the strict model server) stands beside them and imports only dpop and spec;
suite/ holds the test modules the plugin collects.
"""
