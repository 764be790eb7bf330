"""What tests share besides fixtures (those are in tests/conftest.py): data and image builders, local servers,
the repository copied for end-to-end runs."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
