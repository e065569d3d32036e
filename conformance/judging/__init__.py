"""Judging what the wire recorded: problem+json and WWW-Authenticate parsing, the judges (one
small function per thing checked, named for it), the fuzz run and the state machine."""
