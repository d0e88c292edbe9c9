"""The one exception type that carries a user-facing message (bad input, bad config, bad file)."""


class DaekitError(Exception):
    """A problem with what the user gave us; the CLI prints its message as one line and exits non-zero."""
