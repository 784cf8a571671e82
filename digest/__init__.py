"""Digest: turn what your sources published into a good email, on time, to everyone, once."""

__version__ = "0.1.0"
