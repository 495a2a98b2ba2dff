"""shop_analytics: a SQL-first analytics warehouse for commerce event data."""

__version__ = "0.1.0"
