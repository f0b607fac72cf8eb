"""How a matrix runs: one cell per process (the local queue, a Slurm array), and what ``bench status`` shows."""
