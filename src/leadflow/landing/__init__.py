"""Landing: immutable page files, a load ledger and the single DuckDB writer that loads them."""
