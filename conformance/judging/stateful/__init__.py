"""A Hypothesis rule-based state machine over ARCP's registration flow (profile §3, §6), in three
parts: what it sends (machine), what it judges after every step (invariants), and how a run is
driven and read (run)."""
