"""The errors the ``labs`` command reports as one line, without a traceback."""

from __future__ import annotations


class LabsError(Exception):
    """A problem the user can fix; the message says how."""


class BadValueError(LabsError, ValueError):
    """A setting or option whose value cannot work; the message names it and what a valid one looks like."""


class IncompleteReadError(LabsError, TimeoutError):
    """A reader ran out of time before it reached the end it was asked to read to."""
