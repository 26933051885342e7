"""embharness: reproducible evaluation of code and text embedding models on top of mteb."""

from embharness.paths import configure_environment

__version__ = "0.1.0"

# Process settings (tokenizer threads, matplotlib backend) before anything imports mteb; the
# Hugging Face and mteb caches stay where the user keeps them.
configure_environment()
