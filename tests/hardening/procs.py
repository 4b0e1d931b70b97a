"""Functions run in child processes (spawned: each imports the app afresh and opens its own engine)."""

from __future__ import annotations

import re
import tempfile


def hammer_login(database_url: str, username: str, attempts: int) -> list[int]:
    """Post ``attempts`` wrong passwords for ``username`` from an app of this process's own; the statuses."""
    from webapp import create_app
    from webapp.db import get_engine

    with tempfile.TemporaryDirectory() as instance:
        app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
                          "INSTANCE_PATH": instance, "SCHEDULER": False})
        client = app.test_client()
        statuses = []
        for i in range(attempts):
            page = client.get("/login").get_data(as_text=True)
            token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
            response = client.post("/login", data={"username": username, "password": f"wrong-{i}",
                                                   "csrf_token": token})
            statuses.append(response.status_code)
        get_engine(app).dispose()
        return statuses
