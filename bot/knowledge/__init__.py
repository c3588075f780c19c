"""What the assistant knows, as data: the source documents cleaned from raw pages
(``cleaning``, ``corpus``), the FAQ entries that cite them (``entries``) and the
regression cases staff and developers write against them (``cases``). Loading and
validation only; nothing here ranks, decides or phrases."""
