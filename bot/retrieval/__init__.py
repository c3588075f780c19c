"""Finding the entry or passage a question asks for: sentence encoders (``embedding``),
the faiss index and its manifest (``index``, built by ``make index``), the entry
classifier (``ranker``), its thresholds and paths (``settings``) and the engine that
ranks and decides answer / did-you-mean / no answer (``engine``). Knows nothing of
Rasa, conversations or reply wording."""
