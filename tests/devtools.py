"""The protocol core both browser tests share: Chromium's DevTools commands over one websocket,
replies matched by id, events kept in a list. Each test adds how it starts Chromium and waits."""

from __future__ import annotations

import asyncio
import json


class DevToolsConnection:
    """Commands to one DevTools target (``self.ws``, set by the subclass), events in ``self.events``."""

    #: how long a command may wait for its reply, s
    reply_timeout_s = 20.0

    def __init__(self) -> None:
        self.events: list[dict] = []
        self._pending: dict[int, asyncio.Future] = {}
        self._n = 0

    async def _read(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            if "id" in data:
                future = self._pending.pop(data["id"], None)
                if future is not None and not future.done():
                    future.set_result(data)
            else:
                self.events.append(data)

    async def send(self, method: str, **params):
        self._n += 1
        future = asyncio.get_running_loop().create_future()
        self._pending[self._n] = future
        await self.ws.send_str(json.dumps({"id": self._n, "method": method, "params": params}))
        reply = await asyncio.wait_for(future, self.reply_timeout_s)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    async def eval(self, expression: str):
        reply = await self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in reply:
            raise RuntimeError(f"{expression}: {reply['exceptionDetails']}")
        return reply["result"].get("value")
