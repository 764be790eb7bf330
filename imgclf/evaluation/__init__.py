"""Evaluation: test metrics, the classification report and the pictures of a trained model."""
