"""`python -m digest`: the same command as the `digest` console script."""

from digest.cli import main

main()
