"""An ASGI app built on its first request, so registering the dashboard in a plugin costs nothing.

Airflow imports plugins in several processes (API server, scheduler, DAG processor, task runner); only the
API server ever serves the dashboard, so the others should not pay for importing pandas and the store.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class LazyASGIApp:
    """Calls ``factory`` once, on the first request (or lifespan event), and delegates to its app."""

    def __init__(self, factory: Callable[[], ASGIApp]) -> None:
        self._factory = factory
        self._app: ASGIApp | None = None
        self._lock = threading.Lock()

    @property
    def app(self) -> ASGIApp:
        """The real app (built now if it was not yet)."""
        if self._app is None:
            with self._lock:
                if self._app is None:
                    self._app = self._factory()
        return self._app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
