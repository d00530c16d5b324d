"""The unit explorer: ``spec.py`` declares it, ``compute.py`` gathers its data, ``render.py`` writes the files the
page (``docs/explorer.md``, ``docs/javascripts/explorer/``) fetches, ``budget.py`` measures them in a browser."""
