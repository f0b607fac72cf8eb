"""Stage 6 of the flow, results: cell identity, cell folders, locks, input records and the results.csv schema."""
