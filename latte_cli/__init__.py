"""latte: terminal-first complaint handling with the LATTE model."""

__version__ = "0.1.0"
