"""The one error type of the stack: its message is printed as one line, without a traceback."""


class StackError(Exception):
    """Something the user must fix (a missing tool, a taken port) or a component that failed."""
