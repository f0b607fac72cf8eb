"""The one exception type for mistakes a user can make (bad path, unknown name, bad scale).

The CLI catches :class:`BenchError`, prints its message as one sentence and exits non-zero;
every other exception is a bug in the harness or in a plugin.
"""

from __future__ import annotations


class BenchError(Exception):
    """A user-caused error whose message is one clear sentence, shown without a traceback."""
