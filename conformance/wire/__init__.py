"""Talking to the target: the recorded exchange, the client (limits, retries, origin rule),
the agent endpoint the target calls back, the registration flows, and one run's session."""
