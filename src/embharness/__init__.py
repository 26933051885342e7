"""embharness: reproducible evaluation of code and text embedding models on top of mteb."""

from embharness.paths import configure_environment

__version__ = "0.1.0"

# mteb creates MTEB_CACHE when imported: point it into the project before anything imports mteb.
configure_environment()
