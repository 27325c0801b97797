"""The framework's ceiling: a FastAPI `async def` endpoint that returns a constant hero.

No database, no validation beyond the path parameter: what FastAPI and uvicorn cost for
GET /heroes/{hero_id} on this machine. The benchmark uses its rate as the ceiling for
every endpoint.
"""

from typing import Any

from fastapi import FastAPI

HERO: dict[str, Any] = {"name": "Deadpond", "age": 30, "id": 1}

app = FastAPI()


@app.get("/heroes/{hero_id}")
async def read_hero(hero_id: int) -> dict[str, Any]:
    return HERO
