"""Reading Chinese text, with no knowledge of certificates: normalisation and script
(``text``), dates candidates type (``dates``), the official working-day calendar
(``workdays``), places and where a rule applies (``regions``) and masking of personal
numbers (``privacy``). The bottom layer: it imports nothing else of ``bot`` but
``bot.datafiles``."""
