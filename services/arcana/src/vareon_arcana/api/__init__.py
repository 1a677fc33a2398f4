"""Arcana's HTTP routers: parse the request, call a use case (``calls``, ``chat``, ``sessions``,
``analysis``), render the result."""
