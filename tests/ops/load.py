"""A steady, bounded mixed load on 127.0.0.1 that records every request's outcome."""

import itertools
import threading
import time
from dataclasses import dataclass, field

import httpx2 as httpx


@dataclass(frozen=True)
class Outcome:
    method: str
    started: float
    ended: float
    status: int | None  # None: no answer (the error says why)
    error: str | None = None
    hero_id: int | None = None
    request_id: str = ""


@dataclass
class MixedLoad:
    """`threads` clients, each writing a hero then reading it back, until stopped."""

    base_url: str
    threads: int = 4
    pause: float = 0.01  # between requests: steady, not saturating two shared cores
    max_seconds: float = 60
    timeout: float = 15
    fresh_connections: bool = False
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)
    _ids: "itertools.count[int]" = field(default_factory=itertools.count)

    def start(self) -> None:
        for number in range(self.threads):
            worker = threading.Thread(target=self._run, args=(number,), daemon=True)
            worker.start()
            self._workers.append(worker)

    def stop(self) -> list[Outcome]:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=self.timeout + 5)
        return list(self.outcomes)

    def _run(self, number: int) -> None:
        deadline = time.monotonic() + self.max_seconds
        limits = httpx.Limits(max_keepalive_connections=0 if self.fresh_connections else 1)
        with httpx.Client(base_url=self.base_url, timeout=self.timeout, limits=limits) as client:
            while not self._stop.is_set() and time.monotonic() < deadline:
                body = {"name": f"load-{number}-{next(self._ids)}", "secret_name": "s"}
                created = self._send(client, "POST", "/heroes/", body)
                if created.hero_id is not None:
                    self._send(client, "GET", f"/heroes/{created.hero_id}")
                time.sleep(self.pause)

    def _send(self, client: httpx.Client, method: str, path: str, body: object = None) -> Outcome:
        request_id = f"load-{next(self._ids)}"
        started = time.monotonic()
        try:
            response = client.request(
                method, path, json=body, headers={"X-Request-ID": request_id}
            )
        except httpx.TransportError as error:
            outcome = Outcome(
                method, started, time.monotonic(), None, type(error).__name__, None, request_id
            )
        else:
            hero_id = response.json().get("id") if response.status_code == 200 else None
            outcome = Outcome(
                method, started, time.monotonic(), response.status_code, None, hero_id, request_id
            )
        self.outcomes.append(outcome)
        return outcome
