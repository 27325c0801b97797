"""How the hero routes are introduced in the API docs."""

TAG = {
    "name": "heroes",
    "description": (
        "Create, list, read, update and delete heroes. A hero is `{id, name, age}`; "
        "`secret_name` is written with a hero and never read back."
    ),
}
