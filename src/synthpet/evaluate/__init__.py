"""MNI space, regional measures, metrics, the paper's statistics and figures, SUVR, expected error."""
