"""The offline mirror: a recorded web served on localhost, and the download handler
that fetches ``https://host/path?q`` from ``MIRROR_URL/host/path?q``."""

from .server import BUNDLED_WEB, MirrorServer, mirror_path

__all__ = ["BUNDLED_WEB", "MirrorServer", "mirror_path"]
