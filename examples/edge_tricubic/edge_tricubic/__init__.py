"""Example third-party method plugin for udean-bench: ``edge-tricubic``.

Importing :mod:`edge_tricubic.method` registers the method; the ``bench.plugins`` entry point in
``pyproject.toml`` makes ``bench`` import it once the package is installed.
"""
