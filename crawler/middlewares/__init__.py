"""Downloader middlewares of the fetch stage."""
