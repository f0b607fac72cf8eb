"""The pieces of ``benchmarks/gpu_paper_run.py``, the ``paper`` profile on one GPU machine in one command.

One module per purpose, in the order of the run: ``options`` (the command line),
``concurrency_probe`` (phase 1), ``cell_data_builder`` (phase 2), ``cell_worker`` (the worker
processes: phases 1, 3 and 5), ``method_steps`` and ``budget`` (phase 4), ``session`` (the parent,
phases 1–5), ``report``, ``summary`` and ``packing`` (phase 6); ``run_record``, ``machine_record``,
``source_digest``, ``builtin_plugins``, ``worker_setup`` and ``process_output`` serve them.
Every import is absolute (``benchmarks.gpu_run.*``): the repository root must be on ``sys.path``.
"""
