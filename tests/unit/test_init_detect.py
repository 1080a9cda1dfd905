"""init's detectors over files alone (no git, no processes): test runner, service, health."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipdeck.cli.init import Detected, render_config
from shipdeck.cli.init_detect import (
    Service,
    compose_ports,
    dependencies,
    detect_health,
    detect_service,
    detect_tests,
    dockerfile_facts,
)
from shipdeck.lifecycle.config.schema import parse_config


def tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_pytest_from_a_poetry_dev_dependency(tmp_path: Path) -> None:
    tree(tmp_path, {
        "pyproject.toml": '[tool.poetry.group.dev.dependencies]\npytest-cov = "*"\npytest = "^8"\n',
        "tests/test_a.py": "def test_a():\n    assert True\n",
    })  # fmt: skip
    runner, _ = detect_tests(tmp_path)
    assert runner is not None and runner.name == "pytest"
    assert runner.evidence == "pytest in pyproject.toml"
    assert runner.junit and f"--junitxml={runner.junit}" in runner.command
    assert runner.command.startswith("{python} -m pytest")
    assert set(dependencies(tmp_path)) == {"pytest", "pytest-cov"}


def test_unittest_in_a_package_and_pytest_imports_win(tmp_path: Path) -> None:
    tree(tmp_path, {
        "tests/__init__.py": "",
        "tests/test_a.py": "import unittest\n",
        "tests/test_b.py": "from unittest import TestCase\n",
        "tests/test_c.py": "import unittest\n",
        ".venv/lib/test_x.py": "import pytest\n",  # an environment is never read
    })  # fmt: skip
    runner, _ = detect_tests(tmp_path)
    assert runner is not None and runner.name == "unittest" and runner.junit is None
    assert runner.command == "{python} -m unittest discover -s tests -t ."
    assert runner.evidence == "tests/test_a.py, tests/test_b.py and 1 more"
    (tmp_path / "tests" / "test_d.py").write_text("import pytest\n")
    runner, _ = detect_tests(tmp_path)
    assert runner is not None and runner.name == "pytest"


def test_tox_nox_npm_make_and_what_is_not_a_runner(tmp_path: Path) -> None:
    tree(tmp_path, {
        "tox.ini": "[tox]\n", "noxfile.py": "",
        "package.json": '{"scripts": {"test": "echo \\"Error: no test specified\\" && exit 1"}}',
        "Makefile": "VAR := 1\ntest:\n\ttrue\n",
    })  # fmt: skip
    runner, others = detect_tests(tmp_path)
    assert runner is not None and (runner.name, runner.command) == ("tox", "{python} -m tox")
    assert others == ["nox (noxfile.py)", "make (Makefile target test)"]  # npm's placeholder: no
    assert detect_tests(tmp_path / "none")[0] is None


def test_uvicorn_from_code_gunicorn_from_a_dependency(tmp_path: Path) -> None:
    tree(tmp_path, {
        "src/svc/__init__.py": "",
        "src/svc/api.py": "from fastapi import FastAPI\napi: FastAPI = FastAPI()\n",
    })  # fmt: skip
    svc = detect_service(tmp_path)
    assert svc is not None and svc.target == "local" and svc.port == 8000
    assert svc.run == "{python} -m uvicorn svc.api:api --app-dir src --host 127.0.0.1 --port {port}"

    flask = tree(tmp_path / "f", {
        "web/__init__.py": "from flask import Flask\n\n"
        "def create_app():\n    return Flask(__name__)\n",
        "requirements.txt": "Flask==3.0\ngunicorn>=21\n",
    })  # fmt: skip
    svc = detect_service(flask)
    assert svc is not None and svc.kind == "gunicorn"
    assert svc.run == "{python} -m gunicorn web:create_app --bind 127.0.0.1:{port}"


def test_a_launch_line_wins_with_its_port_and_worker(tmp_path: Path) -> None:
    tree(tmp_path, {
        "main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
        "Dockerfile": "FROM python\nEXPOSE 80\nCMD gunicorn -k uvicorn.workers.UvicornWorker \\\n"
        "  -b 0.0.0.0:7000 main:app\n",
    })  # fmt: skip
    assert dockerfile_facts(tmp_path) == (
        ["gunicorn", "-k", "uvicorn.workers.UvicornWorker", "-b", "0.0.0.0:7000", "main:app"],
        80,
        None,
    )
    svc = detect_service(tmp_path)
    assert svc is not None
    assert svc.run == (
        "{python} -m gunicorn -k uvicorn.workers.UvicornWorker main:app --bind 127.0.0.1:{port}"
    )
    assert svc.port == 7000
    (tmp_path / "Procfile").write_text("web: python -m flask --app main run -p 5050\n")
    svc = detect_service(tmp_path)
    assert svc is not None and svc.kind == "flask" and svc.port == 5050


def test_compose_service_that_builds_and_docker_only(tmp_path: Path) -> None:
    tree(tmp_path, {
        "docker-compose.yml": "services:\n  cache: {image: redis, ports: ['6379:6379']}\n"
        "  api:\n    build: .\n    ports:\n      - target: 8080\n        published: 18080\n",
        "Dockerfile": "FROM scratch\nEXPOSE 8080\n",
    })  # fmt: skip
    assert compose_ports(tmp_path) == ("docker-compose.yml service api", 18080, 8080, None)
    svc = detect_service(tmp_path)
    assert svc == Service("docker", "Dockerfile EXPOSE 8080, docker-compose.yml service api",
                          None, 18080, container_port=8080)  # fmt: skip
    assert detect_service(tmp_path / "nothing") is None


def test_health_route_not_from_tests_and_most_conventional_first(tmp_path: Path) -> None:
    tree(tmp_path, {
        "app.py": '@app.get("/status")\ndef s(): ...\n'
        '@router.api_route("/healthz/")\ndef h(): ...\n'
        'requests.get("https://example.com/health")\n',
        "tests/test_app.py": 'client.get("/health")\n',
    })  # fmt: skip
    route = detect_health(tmp_path)
    assert route is not None and (route.path, route.evidence) == ("/healthz", "app.py")
    assert detect_health(tmp_path / "none") is None


def test_rendered_configs_load(tmp_path: Path) -> None:
    """Every shape render_config writes is a config shipdeck accepts."""
    for svc in (
        None,
        Service("npm", "package.json", "npm start", 3000, env={"PORT": "3000"}),
        Service("docker", "Dockerfile", None, None),
        Service("docker", "Dockerfile EXPOSE 80", None, 80, container_port=80),
    ):
        d = Detected(project="p", base_branch="master", service=svc, dockerfile=True)
        text = render_config(d)
        cfg = parse_config(text)
        assert cfg.base_branch == "master"
        assert text.startswith("# For completion in editors: shipdeck schema")
        assert ("staging" in cfg.environments) == (svc is not None)
    d = Detected(project="p", schema=".vscode/shipdeck.schema.json")
    head = render_config(d).splitlines()[0]
    assert head == "# yaml-language-server: $schema=.vscode/shipdeck.schema.json"


_STDLIB = """\
import argparse
import os
import sqlite3
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DATA_DIR = os.environ.get("DATA_DIR", "data")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/healthz":
            self.send_response(200)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-p", "--port", type=int, default=8123)
    ThreadingHTTPServer(("127.0.0.1", parser.parse_args().port), Handler).serve_forever()


if __name__ == "__main__":
    main()
"""


def test_a_standard_library_server_its_port_flag_data_dir_and_health(tmp_path: Path) -> None:
    tree(tmp_path, {
        "svc/__init__.py": "",
        "svc/__main__.py": _STDLIB.replace('if __name__ == "__main__":\n    main()', "main()"),
        "tests/test_svc.py": "from http.server import HTTPServer\nHTTPServer.serve_forever\n",
    })  # fmt: skip
    svc = detect_service(tmp_path)
    assert svc is not None and (svc.kind, svc.port) == ("http.server", 8123)
    assert svc.run == "{python} -m svc --port {port}"
    assert svc.evidence == "http.server in svc/__main__.py, port from argparse --port"
    assert svc.data_env == {"DATA_DIR": "{data_dir}"}
    assert svc.data_evidence == "DATA_DIR read in svc/__main__.py"
    route = detect_health(tmp_path)
    assert route is not None and (route.path, route.evidence) == ("/healthz", "svc/__main__.py")
    text = render_config(Detected(project="p", service=svc, health=route))
    staging = parse_config(text).environments["staging"]
    assert staging.run == "DATA_DIR={data_dir} {python} -m svc --port {port}"
    assert staging.port == 8123 and staging.health is not None
    assert staging.health.url == "http://127.0.0.1:{port}/healthz"


def test_a_standard_library_server_on_port_or_a_fixed_port(tmp_path: Path) -> None:
    env_port = (
        "import os\nfrom http.server import HTTPServer, SimpleHTTPRequestHandler\n"
        'if __name__ == "__main__":\n'
        '    port = int(os.environ.get("PORT", "9000"))\n'
        '    HTTPServer(("", port), SimpleHTTPRequestHandler).serve_forever()\n'
    )
    tree(tmp_path, {"server.py": env_port})
    svc = detect_service(tmp_path)
    assert svc is not None and svc.run == "{python} -m server" and svc.port == 9000
    assert svc.env == {"PORT": "9000"} and svc.data_env == {}
    parse_config(render_config(Detected(project="p", service=svc)))
    fixed = (
        'import http.server\nif __name__ == "__main__":\n'
        '    http.server.HTTPServer(("", 8080), None).serve_forever()\n'
    )
    (tmp_path / "server.py").write_text(fixed)
    svc = detect_service(tmp_path)
    assert svc is not None and svc.run == "{python} -m server" and svc.port == 8080
    assert svc.evidence == "http.server in server.py, port from a port in the code"
    # a module that is never run as a program is not a service
    (tmp_path / "server.py").write_text(
        fixed.replace('if __name__ == "__main__":\n    ', "def f():\n    ")
    )
    assert detect_service(tmp_path) is None


@pytest.mark.parametrize(
    "imports",
    [
        "import argparse, http.server, json",
        "import http.server as hs",
        "import json as j, socketserver",
        "from http import server",
        "from http import HTTPStatus, server as srv",
        "from wsgiref import simple_server",
    ],
)
def test_a_standard_library_server_imported_any_way(tmp_path: Path, imports: str) -> None:
    """Found on a stranger's service: ``import argparse, http.server, json`` in a
    package's ``__main__.py`` was "service: not found"."""
    tree(tmp_path, {
        "svc/__init__.py": "",
        "svc/__main__.py": f"{imports}\nSERVER = None  # ...\nSERVER.serve_forever()\n",
    })  # fmt: skip
    svc = detect_service(tmp_path)
    assert svc is not None and svc.kind == "http.server" and svc.run == "{python} -m svc"
    # the module's name in a comment or a string is not an import
    (tmp_path / "svc/__main__.py").write_text(
        "import json  # not http.server\nx = 'import http.server'\nx.serve_forever()\n"
    )
    assert detect_service(tmp_path) is None


# miguelgrinberg/microblog, as cloned: a Procfile that migrates before its server, a
# database URL whose fallback is a SQLite file beside the code, and its tests in tests.py
MICROBLOG = {
    "Procfile": "web: flask db upgrade; flask translate compile; gunicorn microblog:app\n",
    "Dockerfile": 'FROM python:slim\nEXPOSE 5000\nENTRYPOINT ["./boot.sh"]\n',
    "requirements.txt": "Flask==3.0.0\ngunicorn==21.2.0\n",
    "microblog.py": "from app import create_app\napp = create_app()\n",
    "app/__init__.py": "from flask import Flask\ndef create_app():\n    return Flask(__name__)\n",
    "config.py": (
        "import os\nbasedir = os.path.abspath(os.path.dirname(__file__))\n"
        "class Config:\n"
        "    SQLALCHEMY_DATABASE_URI = os.environ.get('DATABASE_URL', '').replace(\n"
        "        'postgres://', 'postgresql://') or \\\n"
        "        'sqlite:///' + os.path.join(basedir, 'app.db')\n"
    ),
    "tests.py": "import unittest\nclass T(unittest.TestCase):\n    def test_a(self): pass\n",
}


def test_a_procfile_that_migrates_first_and_a_sqlite_url_in_the_data_dir(
    tmp_path: Path,
) -> None:
    """Found on microblog: the Procfile's first word (``flask db upgrade``) was taken
    for the server, the migration was dropped, tests.py was not a test file, and each
    deploy started on an empty app.db in its own export."""
    tree(tmp_path, MICROBLOG)
    svc = detect_service(tmp_path)
    assert svc is not None and (svc.kind, svc.port) == ("gunicorn", 5000)
    assert svc.setup == "flask db upgrade; flask translate compile;"
    assert svc.run == "{python} -m gunicorn microblog:app --bind 127.0.0.1:{port}"
    assert svc.data_env == {"DATABASE_URL": "sqlite:///{data_dir}/app.db"}
    assert svc.evidence.endswith("after flask db upgrade; flask translate compile")
    runner, _ = detect_tests(tmp_path)
    assert runner is not None and runner.command == "{python} -m unittest discover"
    config = parse_config(render_config(Detected(project="mb", service=svc)))
    run = config.environments["staging"].run
    # the migration and the server both get the data's place; the server replaces the shell
    assert run == (
        "export DATABASE_URL=sqlite:///{data_dir}/app.db; flask db upgrade;"
        " flask translate compile; exec {python} -m gunicorn microblog:app"
        " --bind 127.0.0.1:{port}"
    )
    # && and || are kept as written; a line with no known server is not a launch line
    (tmp_path / "Procfile").write_text("web: ./migrate.sh && gunicorn microblog:app -w 2\n")
    svc = detect_service(tmp_path)
    assert svc is not None and svc.setup == "./migrate.sh &&"
    assert svc.run == "{python} -m gunicorn -w 2 microblog:app --bind 127.0.0.1:{port}"
    # the commands before the server as written: $VARs expand, quotes and redirects stay,
    # braces are not template fields
    line = """./bin/prep --env "$APP_ENV" && echo "${RELEASE:-dev}; x" > .rel; gunicorn m:app"""
    (tmp_path / "Procfile").write_text(f"web: {line}\n")
    svc = detect_service(tmp_path)
    assert svc is not None and svc.run.startswith("{python} -m gunicorn m:app")
    assert svc.setup == line.removesuffix(" gunicorn m:app").replace("{", "{{").replace("}", "}}")
    config = parse_config(render_config(Detected(project="mb", service=svc)))
    assert svc.setup + " exec {python} -m gunicorn" in config.environments["staging"].run
    (tmp_path / "Procfile").write_text("web: ./boot.sh; echo done\n")
    svc = detect_service(tmp_path)
    assert svc is not None and svc.setup == "" and svc.kind == "gunicorn"
    # a URL read with no SQLite fallback names a database server: left alone
    (tmp_path / "config.py").write_text("import os\nURL = os.environ['DATABASE_URL']\n")
    svc = detect_service(tmp_path)
    assert svc is not None and svc.data_env == {}


# miguelgrinberg/flasky's config.py, trimmed: a URL per configuration, each with its own
# fallback; the testing one's is an in-memory database
FLASKY_CONFIG = """\
import os
basedir = os.path.abspath(os.path.dirname(__file__))

class DevelopmentConfig:
    SQLALCHEMY_DATABASE_URI = os.environ.get('DEV_DATABASE_URL') or \\
        'sqlite:///' + os.path.join(basedir, 'data-dev.sqlite')

class TestingConfig:
    SQLALCHEMY_DATABASE_URI = os.environ.get('TEST_DATABASE_URL') or \\
        'sqlite://'

class StagingConfig:
    SQLALCHEMY_DATABASE_URI = os.environ.get('STAGING_DATABASE_URL')

class ProductionConfig:
    SQLALCHEMY_DATABASE_URI = os.environ.get('DATABASE_URL') or \\
        'sqlite:///' + os.path.join(basedir, 'data.sqlite')
"""


def test_each_database_url_gets_its_own_fallbacks_file_and_a_tests_url_none(
    tmp_path: Path,
) -> None:
    """Found on flasky: TEST_DATABASE_URL (an in-memory fallback, and the tests', not
    the service's) was set to the production file, the next name in the code."""
    tree(tmp_path, {**MICROBLOG, "config.py": FLASKY_CONFIG})
    svc = detect_service(tmp_path)
    assert svc is not None
    assert svc.data_env == {
        "DEV_DATABASE_URL": "sqlite:///{data_dir}/data-dev.sqlite",
        "DATABASE_URL": "sqlite:///{data_dir}/data.sqlite",
    }


# What `django-admin startproject mysite .` and `manage.py startapp polls` write (Django
# 5), trimmed to the lines init reads.
DJANGO = {
    "manage.py": (
        "#!/usr/bin/env python\nimport os\nimport sys\n\ndef main():\n"
        "    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n"
        "    from django.core.management import execute_from_command_line\n"
        "    execute_from_command_line(sys.argv)\n"
    ),
    "mysite/__init__.py": "",
    "mysite/settings.py": (
        "import os\nfrom pathlib import Path\nBASE_DIR = Path(__file__).resolve().parent.parent\n"
        "SECRET_KEY = os.environ.get('SECRET_KEY', 'dev')\n"  # an env read, not the database's
        "DATABASES = {\n    'default': {\n        'ENGINE': 'django.db.backends.sqlite3',\n"
        "        'NAME': BASE_DIR / 'db.sqlite3',\n    }\n}\n"
    ),
    "mysite/urls.py": (
        "from django.contrib import admin\nfrom django.urls import path\n\n"
        "urlpatterns = [\n    path('admin/', admin.site.urls),\n]\n"
    ),
    "mysite/wsgi.py": (
        "import os\nfrom django.core.wsgi import get_wsgi_application\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n"
        "application = get_wsgi_application()\n"
    ),
    "polls/__init__.py": "",
    "polls/tests.py": "from django.test import TestCase\n\n# Create your tests here.\n",
    "requirements.txt": "django\n",
}


def test_a_django_project_its_tests_server_migrations_health_and_database(
    tmp_path: Path,
) -> None:
    """Found on a fresh `startproject`: init said "test runner: not found" and "service:
    not found"."""
    tree(tmp_path, DJANGO)
    runner, _ = detect_tests(tmp_path)
    assert runner is not None and (runner.name, runner.command) == (
        "django",
        "{python} manage.py test",
    )
    svc = detect_service(tmp_path)
    assert svc is not None and (svc.kind, svc.port) == ("django", 8000)
    assert svc.run == "{python} manage.py runserver 127.0.0.1:{port} --noreload"
    assert svc.setup == "{python} manage.py migrate --noinput;"
    # db.sqlite3 beside the code would be lost at each deploy: said, with the change
    assert svc.data_env == {} and svc.data_warning is not None
    assert svc.data_warning.startswith("mysite/settings.py keeps its SQLite database")
    health = detect_health(tmp_path)
    assert health is not None and health.path == "/admin/login/"
    text = render_config(Detected(project="dj", service=svc, health=health))
    config = parse_config(text)
    assert config.environments["staging"].run == (
        "{python} manage.py migrate --noinput;"
        " exec {python} manage.py runserver 127.0.0.1:{port} --noreload"
    )
    assert f"    # data: {svc.data_warning}" in text.splitlines()
    # gunicorn as a dependency serves the WSGI module; the path read from the
    # environment goes to the data directory; a health route of its own wins
    tree(tmp_path, {
        "requirements.txt": "django\ngunicorn\n",
        "mysite/settings.py": DJANGO["mysite/settings.py"].replace(
            "BASE_DIR / 'db.sqlite3'", "os.environ.get('DATABASE', BASE_DIR / 'db.sqlite3')"
        ),
        "polls/urls.py": "from django.urls import path\nurlpatterns = [path('healthz/', ok)]\n",
    })  # fmt: skip
    svc = detect_service(tmp_path)
    assert svc is not None and svc.kind == "gunicorn" and svc.data_warning is None
    assert svc.run == "{python} -m gunicorn mysite.wsgi --bind 127.0.0.1:{port}"
    assert svc.data_env == {"DATABASE": "{data_dir}/db.sqlite3"}
    health = detect_health(tmp_path)
    assert health is not None and health.path == "/healthz/"
    assert parse_config(render_config(Detected(project="dj", service=svc, health=health)))
    # without a manage.py naming its settings it is not a Django project
    (tmp_path / "manage.py").write_text("print('hi')\n")
    runner, _ = detect_tests(tmp_path)
    assert runner is None or runner.name != "django"


def test_a_django_project_with_static_root_collects_its_static_files(tmp_path: Path) -> None:
    """Found on djangox: its templates name static files through WhiteNoise's manifest
    storage, so its tests failed ("Missing staticfiles manifest entry") and a deploy
    served no CSS until collectstatic ran, in Build (the tests' export) and before the
    server (a release is a fresh export)."""
    settings = DJANGO["mysite/settings.py"] + 'STATIC_ROOT = BASE_DIR / "staticfiles"\n'
    tree(tmp_path, {**DJANGO, "mysite/settings.py": settings})
    svc = detect_service(tmp_path)
    assert svc is not None
    collect = "{python} manage.py collectstatic --noinput"
    assert svc.build == collect
    assert svc.setup == f"{{python}} manage.py migrate --noinput; {collect};"
    config = parse_config(render_config(Detected(project="dj", service=svc, build=[svc.build])))
    assert [step.run for step in config.stages.build] == [collect]
    assert config.environments["staging"].run.startswith(
        f"{{python}} manage.py migrate --noinput; {collect}; exec "
    )
    # a STATIC_ROOT outside the project (a machine's folder) is not written by a Build
    outside = DJANGO["mysite/settings.py"] + 'STATIC_ROOT = "/var/www/static"\n'
    tree(tmp_path, {"mysite/settings.py": outside})
    svc = detect_service(tmp_path)
    assert svc is not None and svc.build == ""
    assert svc.setup == "{python} manage.py migrate --noinput;"


def test_flasks_tutorial_database_in_the_instance_folder_is_named_with_the_change(
    tmp_path: Path,
) -> None:
    """pallets/flask's examples/tutorial (flaskr): the SQLite file under
    app.instance_path sits in each release's export; init says so, and once the path
    is read from the environment it goes to the data directory."""
    app = (
        "import os\nfrom flask import Flask\n\ndef create_app(test_config=None):\n"
        "    app = Flask(__name__, instance_relative_config=True)\n"
        "    app.config.from_mapping(\n"
        '        DATABASE=os.path.join(app.instance_path, "flaskr.sqlite"),\n    )\n'
        "    return app\n"
    )
    tree(tmp_path, {"flaskr/__init__.py": app, "flaskr/db.py": "import sqlite3\n"})
    svc = detect_service(tmp_path)
    assert svc is not None and svc.data_env == {} and svc.data_warning is not None
    assert svc.data_warning.startswith("flaskr/__init__.py keeps flaskr.sqlite under")
    assert "\n    # data: " + svc.data_warning in render_config(Detected(project="f", service=svc))
    (tmp_path / "flaskr/__init__.py").write_text(
        app.replace(
            'DATABASE=os.path.join(app.instance_path, "flaskr.sqlite")',
            'DATABASE=os.environ.get("DATABASE", os.path.join(app.instance_path, "flaskr.sqlite"))',
        )
    )
    svc = detect_service(tmp_path)
    assert svc is not None and svc.data_warning is None
    assert svc.data_env == {"DATABASE": "{data_dir}/flaskr.sqlite"}


def test_a_flask_apps_sqlite_file_goes_to_the_data_dir(tmp_path: Path) -> None:
    app = (
        "import os, sqlite3\nfrom flask import Flask\napp = Flask(__name__)\n"
        'DATABASE = os.environ.get("DATABASE", os.path.join(app.instance_path, "notes.sqlite"))\n'
        'POSTGRES = os.getenv("POSTGRES_DB_URL")\n'
        'if __name__ == "__main__":\n    app.run(port=5055)\n'
    )
    tree(tmp_path, {"app.py": app})
    svc = detect_service(tmp_path)
    assert svc is not None and svc.kind == "flask" and svc.port == 5055
    assert svc.evidence == "Flask app app:app in app.py, port from its .run(port=5055)"
    assert svc.data_env == {"DATABASE": "{data_dir}/notes.sqlite"}
    staging = parse_config(render_config(Detected(project="p", service=svc))).environments
    assert staging["staging"].run == (
        "DATABASE={data_dir}/notes.sqlite {python} -m flask --app app:app run --port {port}"
    )
    # without sqlite, DATABASE names a server's database: left alone
    (tmp_path / "app.py").write_text(app.replace("sqlite3", "psycopg").replace(".sqlite", ""))
    svc = detect_service(tmp_path)
    assert svc is not None and svc.data_env == {} and svc.data_evidence is None
    # a service that reads SHIPDECK_DATA_DIR itself needs nothing set
    (tmp_path / "app.py").write_text(app + 'DB = os.environ["SHIPDECK_DATA_DIR"]\n')
    (tmp_path / "app.py").write_text((tmp_path / "app.py").read_text().replace('"DATABASE"', '"X"'))
    svc = detect_service(tmp_path)
    assert svc is not None and svc.data_env == {}
    assert svc.data_evidence == "SHIPDECK_DATA_DIR read in app.py"
    lines = Detected(project="p", service=svc).report()
    assert "data: the environment's data directory (SHIPDECK_DATA_DIR read in app.py)" in lines


def test_init_says_when_the_port_it_wrote_is_in_use_now() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        svc = Service("http.server", "http.server in app.py", "{python} -m app", port)
        lines = Detected(project="p", service=svc).report()
        said = f"  port {port} is in use now: change environments.staging.port"
        assert lines[3].startswith(said), lines
    assert not any("in use" in line for line in Detected(project="p", service=svc).report())
