"""One turn of a conversation, independent of Rasa: the candidate's message read once
(``message``), the FAQ turn with its follow-ups in context (``faq``), the deadline form
(``deadline_form``), the deadline rules (``deadlines``) and the one renderer every
channel uses for replies (``replies``, ``deadline_replies``). The Rasa actions in
``actions/`` are a thin layer over this package."""
