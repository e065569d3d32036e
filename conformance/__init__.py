"""ARCP DPoP conformance suite."""
