"""Thin rasa_sdk layer over bot/: one class per action, no logic of its own."""
