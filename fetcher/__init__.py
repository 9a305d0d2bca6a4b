"""mergelens fetcher: the complete record of every merged pull request, in DuckDB."""
