"""Reading and writing: the BIDS dataset, the config, paths, derivatives, images, provenance, PET
metadata to SUV, templates."""
