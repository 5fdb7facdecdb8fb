"""mediarec's app as a module attribute, for servers that import ``module:app`` (granian)."""

from _server import app_factory

app = app_factory()
