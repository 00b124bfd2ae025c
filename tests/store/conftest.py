"""The state-store fixtures (`backend`, `store_url`, `store`, `store_factory`)."""

from backends import backend, store, store_factory, store_url  # noqa: F401
