"""What does a CNN see? -- the figure generator.

The data path runs one way: images -> models -> techniques (tensors) ->
renderers (figures) -> fragments (markdown) -> chapters -> site.
"""

__version__ = "0.1.0"
