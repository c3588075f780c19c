"""The candidates' side of the web front: the chat API, its history and feedback, the widget."""
