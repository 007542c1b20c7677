"""The store port: `SqlStore.begin()` gives a `Tx` with one repository per aggregate
(uow.py). Tables in schema.py, migrations in escapevelocity/migrations."""

from escapevelocity.adapters.store.uow import SqlStore, Tx

__all__ = ["SqlStore", "Tx"]
