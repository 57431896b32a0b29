"""The used-car listings: published schema, raw loader and parsing, synthetic generator, batch
splitter. Submodules import Spark, numpy or pandas only where they need them."""
