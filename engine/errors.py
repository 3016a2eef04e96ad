"""The one exception type for mistakes a user can fix (a missing file, a corrupt scan, a wrong option).

Its message is one clear sentence; the CLI prints it and exits non-zero, the app shows it in a dialog.
"""


class UserError(Exception):
    """A problem with the user's input, explained in one sentence."""
