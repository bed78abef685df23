from tests.sync.conftest import public_url, state

__all__ = ["public_url", "state"]
