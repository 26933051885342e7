"""embharness: reproducible evaluation of code and text embedding models on top of mteb."""

__version__ = "0.1.0"
