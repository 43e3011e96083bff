"""Re-export of :mod:`numerics.errors` (the error type lives at the bottom layer; ``verify`` only reports it)."""
from numerics.errors import UserInputError, require

__all__ = ["UserInputError", "require"]
