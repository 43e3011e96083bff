"""The one exception type for bad user input, at the bottom of the layers.

Engines (``theory/``, ``numerics/``) raise :class:`UserInputError` (a ``ValueError``) with a message that names
the offending parameter; the CLI (``verify/``) prints it as a single line on stderr and exits with code 2.
"""


class UserInputError(ValueError):
    """Bad input from the user: a parameter, a ``--set`` override, a ``--problem`` or ``--data`` file."""


def require(condition: bool, message: str) -> None:
    """Raise :class:`UserInputError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise UserInputError(message)


__all__ = ["UserInputError", "require"]
