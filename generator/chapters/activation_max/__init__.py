"""Activation maximisation.

``spec.py`` declares it, ``compute.py`` computes, ``render.py`` draws, ``templates/`` say it.
"""
