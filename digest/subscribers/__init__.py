"""Subscribers in and out of the store: addresses, CSV import, CSV export.

addresses   normalize_email: the address as stored (one person, one row)
csv_import  read an operator's file (any delimiter, BOM, encoding, broken rows) into a list
csv_export  write a list back out as a file that imports as it is
"""

from digest.subscribers.addresses import normalize_email
from digest.subscribers.csv_export import EXPORT_COLUMNS, export_csv
from digest.subscribers.csv_import import (
    MAX_DETAILED,
    ImportReport,
    Skipped,
    import_csv,
    skipped_log,
)
from digest.subscribers.csv_reader import RawRow, read_rows

__all__ = [
    "EXPORT_COLUMNS",
    "MAX_DETAILED",
    "ImportReport",
    "RawRow",
    "Skipped",
    "export_csv",
    "import_csv",
    "normalize_email",
    "read_rows",
    "skipped_log",
]
