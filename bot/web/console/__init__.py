"""The staff console: one module per page with its view model."""
