"""The store (SQLite in WAL mode by default, or PostgreSQL, chosen by URL) and its single writer."""

from mediarec.store.db import EventColumns, Store, StoredEvent, StoredItem, StoreError, path_from_url

__all__ = ["EventColumns", "Store", "StoreError", "StoredEvent", "StoredItem", "path_from_url"]
