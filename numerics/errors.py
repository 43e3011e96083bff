"""Re-export of :mod:`theory.errors`: the one exception type for bad user input lives at the bottom layer."""
from theory.errors import UserInputError, require

__all__ = ["UserInputError", "require"]
