"""Reproducible Keras image classification: the functions behind the DVC stages in `stages/`."""
