from tests.browser import browser, live
from tests.cli.conftest import env

__all__ = ["browser", "env", "live"]  # the CLI tests' environment, the browser harness
