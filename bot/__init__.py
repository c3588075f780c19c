"""Core of the certificate FAQ assistant: text, corpus, knowledge base, retrieval,
deadlines and web. Importing this package is cheap and never imports Rasa."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
