"""Data gathering for the dashboard's pages (handlers stay thin)."""
