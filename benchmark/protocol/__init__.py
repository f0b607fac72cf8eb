"""Stage 2 of the flow, protocol: splits, degradations, misalignment, patches, and the TrainingData a method sees."""
