"""One adapter per upstream API family, behind the :class:`Provider` interface."""
