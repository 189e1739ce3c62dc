"""Members in the console, one module per topic (Django imports this package; each module registers its pages)."""

from . import cards, identity, points, segments, signin, tags, tiers  # noqa: F401
