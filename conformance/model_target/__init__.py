"""The strict model ARCP server: profile §3–§7 in all three DPoP modes, with fault flags.

The suite's self-test runs against it: fault-free it must pass every check, and each fault must
make exactly the checks of the requirements it breaks fail. It shares no checking code with the
suite; only conformance.dpop.keys (thumbprint and ath, pinned by RFC vectors) and the mode names
of conformance.spec.vocabulary.
"""
from .app import create_app
from .config import MODES, ModelConfig
from .faults import FAULTS, Fault
from .server import ModelServer, start_model

__all__ = ["FAULTS", "MODES", "Fault", "ModelConfig", "ModelServer", "create_app", "start_model"]
