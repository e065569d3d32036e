"""Developer tools of the project (not in the wheel): the mutation self-test, the deviations
table, the requirements document. Run them from a clone: python -m tools.<name>."""
