"""Per-scan preprocessing: ingest, brain extraction, registrations, the model grid, normalization, their QC figures."""
