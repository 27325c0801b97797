"""How the hero routes are introduced in the API docs."""

TAG = {
    "name": "heroes",
    "description": (
        "Create, list, read, update and delete heroes. A hero's JSON body is exactly "
        '`{"id", "name", "age"}`; `secret_name` is accepted on writes and never returned.'
    ),
}
