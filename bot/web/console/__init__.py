"""The staff console's handlers, one module per page group (the live desk: :mod:`bot.web.console.live`)."""
