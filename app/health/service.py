from sqlalchemy import Engine, text


def check_database(engine: Engine) -> None:
    """One round trip to the database; raises the driver's error when it cannot answer."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
