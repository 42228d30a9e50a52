"""python -m crawler.mirror [--port 8765] [--root DIR]: serve the recorded web.

Then crawl it with: scrapy crawl sources -s MIRROR_URL=http://127.0.0.1:8765
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .server import BUNDLED_WEB, MirrorServer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m crawler.mirror", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default: 8765)")
    parser.add_argument("--root", type=Path, default=BUNDLED_WEB, help="recorded web directory (default: the bundled one)")
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    parser.add_argument("--etags", action="store_true", help="send an ETag made from each file's bytes and answer 304s")
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        parser.error(f"--root {args.root}: not a directory")
    server = MirrorServer(args.root, args.host, args.port, verbose=not args.quiet, etags=args.etags)
    print(f"Serving {args.root} at {server.url}  (crawl with -s MIRROR_URL={server.url}; Ctrl-C stops)")
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()


if __name__ == "__main__":
    main()
