"""Watch a run live in the browser: PyLabRobot's Visualizer, for ``diazflow run --visualize``.

PLR's :class:`~pylabrobot.visualizer.visualizer.Visualizer` serves a page (HTTP) and pushes the
deck's state (tips, volumes) over a websocket.  Its ``setup()``/``stop()`` are coroutines, but
the servers live on their own threads and event loop, so :func:`start_visualizer` can be called
from plain or async code alike::

    handle = start_visualizer(lh)          # after lh.setup(), before the first operation
    print(f"watch the run at {handle.url}")
    try:
        ...                                # run the plan
    finally:
        handle.stop()

The Visualizer hooks callbacks into every resource of the deck; a callback that fails must never
stop a run, so they are wrapped, and :meth:`VisualizerHandle.stop` removes them again.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _in_thread(coro_factory, timeout: float) -> None:
    """Run a coroutine to completion on a fresh event loop in a helper thread (works whether or
    not the caller is inside a running loop)."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coro_factory())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            errors.append(exc)

    t = threading.Thread(target=target, name="diazflow-visualizer-setup", daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise TimeoutError(f"the visualizer did not start within {timeout:g} s")
    if errors:
        raise errors[0]


@dataclass
class VisualizerHandle:
    """A running Visualizer: ``url`` to open in a browser, :meth:`stop` when the run is over."""

    visualizer: Any
    host: str
    fs_port: int
    ws_port: int
    _stopped: bool = field(default=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.fs_port}/"

    @property
    def running(self) -> bool:
        return not self._stopped

    def stop(self, timeout: float = 5.0) -> None:
        """Stop both servers and unhook the Visualizer from the deck (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        vis = self.visualizer
        loop = getattr(vis, "_loop", None)
        stop_future = getattr(vis, "_stop_", None)
        thread = getattr(vis, "_t", None)
        try:
            if loop is not None and loop.is_running():
                # stop() may talk to the browser over the websocket: run it on the Visualizer's loop
                asyncio.run_coroutine_threadsafe(vis.stop(), loop).result(timeout)
            else:
                _in_thread(vis.stop, timeout)
        except Exception as exc:  # noqa: BLE001 - stopping must not fail a run
            log.warning("stopping the visualizer: %s", exc)
        # PLR only ends the websocket server when a browser is connected: end it ourselves
        if loop is not None and stop_future is not None and not loop.is_closed():

            def _finish() -> None:
                if not stop_future.done():
                    stop_future.set_result("done")

            try:
                loop.call_soon_threadsafe(_finish)
            except RuntimeError:
                pass
        if thread is not None:
            thread.join(timeout)
        _unhook(vis)

    def __enter__(self) -> VisualizerHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def start_visualizer(
    lh: Any,
    *,
    host: str = "127.0.0.1",
    ws_port: int | None = None,
    fs_port: int | None = None,
    open_browser: bool = False,
    name: str | None = None,
    timeout: float = 10.0,
) -> VisualizerHandle:
    """Start PLR's Visualizer for ``lh`` (a LiquidHandler, or any resource) and return a handle.

    Serves on ``host`` only (localhost by default); free ports are chosen unless given.
    """
    try:
        from pylabrobot.visualizer.visualizer import Visualizer
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise RuntimeError(f"the PyLabRobot visualizer is not available: {exc}") from exc

    vis = Visualizer(
        resource=lh,
        host=host,
        ws_port=ws_port or _free_port(host),
        fs_port=fs_port or _free_port(host),
        open_browser=open_browser,
        name=name or "diazflow run",
    )
    _make_callbacks_safe(vis)
    _in_thread(vis.setup, timeout)
    return VisualizerHandle(vis, host, vis.fs_port, vis.ws_port)


async def start_visualizer_async(lh: Any, **kwargs: Any) -> VisualizerHandle:
    """:func:`start_visualizer` for async code (does not block the caller's event loop)."""
    return await asyncio.get_running_loop().run_in_executor(
        None, lambda: start_visualizer(lh, **kwargs)
    )


# --------------------------------------------------------------------------- callbacks


def _make_callbacks_safe(vis: Any) -> None:
    """A failing visualizer callback (e.g. after the page went away) must not fail an operation."""

    def guard(fn):
        def safe(*args: Any, **kwargs: Any) -> None:
            if not getattr(vis, "setup_finished", False):
                return
            try:
                fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001
                log.debug("visualizer callback failed: %s", exc)

        safe.__diazflow_visualizer__ = vis  # type: ignore[attr-defined]
        return safe

    # state updates go through `lambda _: self._handle_state_update_callback(resource)`: an
    # instance attribute is enough
    vis._handle_state_update_callback = guard(vis._handle_state_update_callback)
    root = vis._root_resource
    for attr in ("_did_assign_resource_callbacks", "_did_unassign_resource_callbacks"):
        callbacks = getattr(root, attr, None)
        if callbacks is None:
            continue
        for i, cb in enumerate(callbacks):
            if getattr(cb, "__self__", None) is vis:
                callbacks[i] = guard(cb)


def _belongs_to(cb: Any, vis: Any) -> bool:
    if getattr(cb, "__self__", None) is vis or getattr(cb, "__diazflow_visualizer__", None) is vis:
        return True
    for cell in getattr(cb, "__closure__", None) or ():
        try:
            if cell.cell_contents is vis:
                return True
        except ValueError:  # an empty cell
            continue
    return False


def _unhook(vis: Any) -> None:
    """Remove every callback the Visualizer put into the resource tree."""
    root = getattr(vis, "_root_resource", None)
    if root is None:
        return
    stack = [root]
    while stack:
        resource = stack.pop()
        for attr in (
            "_did_assign_resource_callbacks",
            "_did_unassign_resource_callbacks",
            "_resource_state_updated_callbacks",
        ):
            callbacks = getattr(resource, attr, None)
            if callbacks:
                callbacks[:] = [cb for cb in callbacks if not _belongs_to(cb, vis)]
        stack.extend(getattr(resource, "children", []))
