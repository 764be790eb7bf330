"""Configuration: params.yaml read into a validated, typed params object."""
