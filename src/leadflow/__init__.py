"""leadflow: CRM and scheduler activity, landed exactly once in DuckDB, modelled into outreach marts."""

__version__ = "0.1.0"
