"""Fitting: the training loop around model.fit, its callbacks, optimizers and resume."""
