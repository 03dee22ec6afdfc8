"""synthpet: synthetic TSPO PET from structural MRI (the library behind the Snakemake workflow)."""

__version__ = "0.1.0"
