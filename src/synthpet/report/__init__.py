"""The report's tables and the methods text."""
