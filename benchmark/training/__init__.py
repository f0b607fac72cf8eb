"""Stage 3 of the flow, training: the shared Trainer, the run context a method trains under, seeding."""
