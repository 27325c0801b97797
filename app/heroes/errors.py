from app.core.errors import AppError


class HeroNotFound(AppError):
    status_code = 404
    detail = "Hero not found"
