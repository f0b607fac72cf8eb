"""The application layer: what a user runs, built on the kernel (``benchmark``) and never imported by it.

* :mod:`benchmark.app.cli` — the ``bench`` command;
* :mod:`benchmark.app.matrix` — the cells a ``bench run`` asks for;
* :mod:`benchmark.app.cell_run` — one cell's run: data, fit, evaluation, record;
* :mod:`benchmark.app.executors` — the three executors (inline, the local queue, the Slurm array) and
  what ``bench status`` shows;
* :mod:`benchmark.app.method_contract` — the properties every method plugin keeps;
* :mod:`benchmark.app.infer` — ``bench infer``: a trained cell on the user's own scans.

The layers and their import rules are drawn in ``docs/architecture.md`` and checked by
import-linter (``[tool.importlinter]`` in ``pyproject.toml``).
"""
