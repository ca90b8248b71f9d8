"""The policy expression language: grammar and AST (``expr``), exact numbers, calendar arithmetic, and the
checker and compiler that turn a checked expression into code (``compiler``)."""
