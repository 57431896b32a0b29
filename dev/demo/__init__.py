"""`make demo`: the whole Continuum loop on the local stack, with a live view (`python -m demo`)."""
