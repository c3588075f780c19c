"""The staff console's pages (one module per page); see bot/web/app.py for the routes."""
