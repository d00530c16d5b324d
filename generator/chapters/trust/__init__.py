"""Which explanation can you trust: ``spec.py`` declares it, ``compute.py`` runs the separate methods and both
tests on every method, ``render.py`` draws the grid and the curves and fills the table, ``templates/`` say it."""
