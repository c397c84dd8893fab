"""Datasets with no download: package-shipped (scikit-learn digits) and procedurally generated. Import from the module files."""
