"""Cross-validation folds, the genotype regression, the 3D U-Net, its training and inference."""
