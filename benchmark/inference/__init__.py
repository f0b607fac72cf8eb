"""Stage 4 of the flow, inference: thin-slab layout and whole-volume tiled super-resolution."""
