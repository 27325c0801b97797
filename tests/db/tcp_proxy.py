"""A TCP proxy on 127.0.0.1 that a test stops and starts: a database server going away
and coming back, without touching the real one."""

import contextlib
import socket
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import make_url


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a server; `stop` is the server going away.

    Each connection is two threads, one per direction. With `forward=False` the proxy
    accepts connections and never answers: a server that hangs.
    """

    def __init__(self, target_port: int) -> None:
        self._target = ("127.0.0.1", target_port)
        self.port = 0  # chosen by the first start, kept by every later one
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self.running = False

    def start(self, *, forward: bool = True) -> None:
        assert not self.running
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(32)
        listener.settimeout(0.05)  # the accept loop notices `stop` this often
        self.port = listener.getsockname()[1]
        self._stopping.clear()
        self.running = True
        self._spawn(self._accept, listener, forward)

    def stop(self) -> None:
        """Close the port and cut every connection; returns once all threads are done."""
        if not self.running:
            return
        self._stopping.set()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes the threads blocked on it
        for thread in self._threads:
            thread.join(timeout=5)
        assert not any(thread.is_alive() for thread in self._threads), "proxy threads hang"
        self._threads.clear()
        for sock in sockets:
            sock.close()
        self.running = False

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _track(self, sock: socket.socket) -> bool:
        with self._lock:
            if self._stopping.is_set():
                sock.close()
                return False
            self._sockets.append(sock)
            return True

    def _accept(self, listener: socket.socket, forward: bool) -> None:
        with listener:
            while not self._stopping.is_set():
                try:
                    client, _address = listener.accept()
                except TimeoutError:
                    continue
                client.settimeout(None)
                if not self._track(client) or not forward:
                    continue  # a hung server: the connection stays open, unanswered
                try:
                    server = socket.create_connection(self._target, timeout=5)
                except OSError:
                    client.shutdown(socket.SHUT_RDWR)
                    continue
                server.settimeout(None)
                if self._track(server):
                    self._spawn(self._pipe, client, server)
                    self._spawn(self._pipe, server, client)

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def via_port(url: str, port: int) -> str:
    """`url`, reaching its server through 127.0.0.1:`port` (the proxy's)."""
    return make_url(url).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
