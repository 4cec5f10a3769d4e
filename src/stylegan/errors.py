"""The one exception type for user mistakes.

Raise :class:`StyleGANError` when the input is wrong (a missing file, a bad flag, a checkpoint that
does not fit) with a message that says what was wrong and what to do. The CLI prints it as a single
line and exits non-zero; any other exception is a bug and keeps its traceback.
"""


class StyleGANError(Exception):
    """A user-facing error: the message says what was wrong and what to do about it."""
