"""Our Scrapy commands (COMMANDS_MODULE): ``crawl``, whose exit status says how the run went."""
