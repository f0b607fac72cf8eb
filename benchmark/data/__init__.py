"""Stage 1 of the flow, data: the dataset interface plugins implement, and the volume they return."""
