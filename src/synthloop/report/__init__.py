"""The self-contained HTML report of a run directory."""

from synthloop.report.html import write_report

__all__ = ["write_report"]
