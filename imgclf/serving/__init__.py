"""Serving: export to SavedModel, TFLite and ONNX, and prediction on new images."""
