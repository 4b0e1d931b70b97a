"""Tifa web app: the Flask application factory.

``create_app()`` opens no database connection and starts no scheduler, so
``gunicorn --preload 'webapp:create_app()'`` forks safely.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask


def create_app(config: dict[str, Any] | None = None) -> Flask:
    from . import config as config_module
    from . import db, errors, security, static_files

    settings = config_module.from_env()
    settings.update(config or {})
    app = Flask(__name__, instance_path=settings["INSTANCE_PATH"])
    app.config.update(settings)
    # jieba's dictionary cache belongs with the rest of the instance's files, not in /tmp.
    os.environ.setdefault("TIFA_JIEBA_CACHE", os.path.join(app.instance_path, "jieba"))

    if app.config.get("PROXY_COUNT"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]

    db.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    static_files.init_app(app)
    _register_blueprints(app)
    return app


def _register_blueprints(app: Flask) -> None:
    from .admin import bp as admin_bp
    from .api import bp as api_bp
    from .auth import bp as auth_bp
    from .downloads import bp as downloads_bp
    from .main import bp as main_bp
    from .review import bp as review_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(main_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(downloads_bp)
    app.register_blueprint(review_bp)
    app.register_blueprint(api_bp)
