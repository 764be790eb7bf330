"""Models: building, training, evaluating, plotting, exporting and predicting."""
