from __future__ import annotations

from pathlib import Path

from aiohttp import web

from entrypoints.container import Container

CONTAINER = web.AppKey("container", Container)
# `serve --processes N`: the directory of the group's Unix sockets (absent for one process).
GROUP_DIR = web.AppKey("group_dir", Path)
