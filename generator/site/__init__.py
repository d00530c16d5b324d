"""The site side of a build: markdown fragments from templates, the one figure markup, the manifest."""
