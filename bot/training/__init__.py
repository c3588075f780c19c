"""Build steps that turn ``data/`` into training inputs, run by ``make`` before
``rasa train`` and never by a server: the Rasa NLU examples generated from the FAQ
entries (``nlu_export``), the benchmark baseline bot (``baseline``) and the threshold
calibration (``calibrate``)."""
