"""Moved to :mod:`benchmark.app.matrix`, :mod:`benchmark.app.cell_run` and :mod:`benchmark.app.executors.inline`.

This path keeps old imports (``from benchmark.runner import build_matrix``) working, with a warning.
"""

from benchmark.app import cell_run as _cell_run
from benchmark.app import matrix as _matrix
from benchmark.app.executors import inline as _inline
from benchmark.moved_module import warn_moved

for _moved in (_matrix, _cell_run, _inline):
    globals().update({name: value for name, value in vars(_moved).items() if not name.startswith("__")})
warn_moved("benchmark.runner", "benchmark.app.matrix, benchmark.app.cell_run and benchmark.app.executors.inline")
