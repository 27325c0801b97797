"""Answers every resource gives alike."""

from pydantic import BaseModel

from app.http.responses import ANSWER_CONFIG


class Deleted(BaseModel):
    """What a DELETE answers, as the tutorial's does."""

    model_config = ANSWER_CONFIG

    ok: bool = True
