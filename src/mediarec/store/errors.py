"""The store's error type (its own module, so that the store's mixins can raise it too)."""

from __future__ import annotations


class StoreError(RuntimeError):
    pass
