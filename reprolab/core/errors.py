"""The one kind of error a user can cause and fix; everything else is a bug and keeps its traceback."""

from __future__ import annotations


class UserError(Exception):
    """An error the user can cause and fix (bad params, missing or corrupt data).

    Stages print its message as one line and exit non-zero, without a traceback.
    """
