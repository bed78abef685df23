from tests.cli.conftest import env  # noqa: F401  (the CLI tests' environment)
