"""Web front: candidate chat page, embed script and staff console (see bot/web/app.py)."""
