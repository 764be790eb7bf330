"""Models: the labs' networks as Keras functions, their input pipelines and model files."""
