"""Moved to :mod:`benchmark.profile_keys` ("setting" now means only the protocol setting, misaligned or unpaired).

This path keeps old imports (``from benchmark.settings import Setting, declare``) working, with a
warning; ``Setting`` is :class:`~benchmark.profile_keys.ProfileKey`.
"""

from benchmark import profile_keys as _profile_keys
from benchmark.moved_module import warn_moved

globals().update({name: value for name, value in vars(_profile_keys).items() if not name.startswith("__")})
Setting = _profile_keys.ProfileKey
warn_moved("benchmark.settings", "benchmark.profile_keys (Setting is now ProfileKey)")
