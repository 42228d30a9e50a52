"""The raw web: every HTTP exchange kept as WARC 1.1 records (ISO 28500), and read back."""

from .reader import read_payload
from .writer import Exchange, PriorCapture, RecordRef, WarcWriter

__all__ = ["Exchange", "PriorCapture", "RecordRef", "WarcWriter", "read_payload"]
