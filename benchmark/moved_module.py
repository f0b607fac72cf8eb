"""Old import paths of modules that moved to the application layer keep working, with a warning.

``benchmark.cli``, ``benchmark.runner`` and ``benchmark.method_contract`` moved to
``benchmark.app`` (``docs/architecture.md``).  Each old path is a small module that calls
:func:`warn_moved` and re-exports the new module's public names, so a plugin's tests or a script
written against the old path go on running and are told where the module is now.
"""

from __future__ import annotations

import warnings


def warn_moved(old: str, new: str) -> None:
    """Warn (``DeprecationWarning``, pointing at the importer) that module ``old`` is now ``new``."""
    warnings.warn(f"{old} moved to {new}; import it from there.", DeprecationWarning, stacklevel=3)
