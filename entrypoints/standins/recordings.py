"""A stand-in for CallRail's recording links: `/calls/{id}/recording/redirect?access_key=...`
answers 302 to the MP3, as CallRail's own link does, and the MP3 is served in chunks."""

from __future__ import annotations

from pathlib import Path

import attrs
from aiohttp import web


@attrs.define
class RecordingServer:
    files: dict[str, Path]  # call id -> audio file
    requests: list[str] = attrs.field(factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/calls/{call_id}/recording/redirect", self._redirect)
        app.router.add_get("/media/{call_id}.mp3", self._media)
        return app

    def recording_url(self, base_url: str, call_id: str) -> str:
        return f"{base_url}/calls/{call_id}/recording/redirect?access_key=demo-access-key"

    async def _redirect(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        call_id = request.match_info["call_id"]
        if call_id not in self.files:
            raise web.HTTPNotFound()
        raise web.HTTPFound(f"/media/{call_id}.mp3")

    async def _media(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path)
        path = self.files.get(request.match_info["call_id"])
        if path is None:
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"Content-Type": "audio/mpeg"})
