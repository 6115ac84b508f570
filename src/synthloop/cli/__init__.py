"""`synthloop` command line: each area's module registers its commands on the shared app."""

from synthloop.cli import demo  # noqa: F401  (registers commands)
from synthloop.cli import data  # noqa: F401  (registers commands)
from synthloop.cli import ingest  # noqa: F401  (registers commands)
from synthloop.cli import loop, report  # noqa: F401  (registers commands)
from synthloop.cli import evaluate  # noqa: F401  (registers commands)
from synthloop.cli import serve  # noqa: F401  (registers commands)
from synthloop.cli import ops, run  # noqa: F401  (registers commands)
from synthloop.cli import train  # noqa: F401  (registers commands)
from synthloop.cli import world  # noqa: F401  (registers commands)
from synthloop.cli.app import app

__all__ = ["app"]
