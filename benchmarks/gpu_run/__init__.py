"""The pieces of ``benchmarks/gpu_paper_run.py``, the ``paper`` profile on one GPU machine in one command.

One module per purpose, in the order of the run: ``options`` (the command line),
``concurrency_probe`` (phase 1, its own measuring processes), ``method_steps`` and ``budget``
(phase 4), ``session`` (phases 1–5: the cells of phases 3 and 5 run in ``bench run``'s local
queue), ``cell_outcome`` (what a cell did, read from its folder), ``report``, ``summary`` and
``packing`` (phase 6); ``run_record``, ``machine_record``, ``source_digest``, ``builtin_plugins``,
``worker_setup`` and ``process_output`` serve them.
Every import is absolute (``benchmarks.gpu_run.*``): the repository root must be on ``sys.path``.
"""
