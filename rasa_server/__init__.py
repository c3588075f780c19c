"""Rasa's own command line, started with the speed fixes in ``patches`` applied.

Runs in the Rasa venv (Python 3.10): ``.venv-rasa/bin/python -m rasa_server run ...`` takes
exactly the arguments of ``rasa``. ``bot.servers`` starts the Rasa server this way.
"""
