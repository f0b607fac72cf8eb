"""How a matrix of cells is executed: in this process, in a local queue of subprocesses, or as a Slurm job array."""
