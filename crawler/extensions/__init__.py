"""Scrapy extensions: components that own something for the whole crawl."""
