"""The web front's storage: the console's tables and the read-only view of Rasa's events."""
