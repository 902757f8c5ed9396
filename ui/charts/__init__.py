"""Altair builders, one module per area: data in, an alt.Chart out, testable without a server."""
