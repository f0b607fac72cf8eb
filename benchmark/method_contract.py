"""Moved to :mod:`benchmark.app.method_contract`; this path keeps old imports working, with a warning."""

from benchmark.app import method_contract as _moved
from benchmark.moved_module import warn_moved

globals().update({name: value for name, value in vars(_moved).items() if not name.startswith("__")})
warn_moved("benchmark.method_contract", "benchmark.app.method_contract")
