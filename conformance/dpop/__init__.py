"""DPoP material, built and read without I/O: keys and RFC 7638 thumbprints, proofs with named
defects, token reading and forging, malformed request bodies and Authorization values, and the
Hypothesis strategies that compose them."""
