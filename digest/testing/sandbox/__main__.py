"""`python -m digest.testing.sandbox --port P`: serve the sandbox until interrupted."""

from digest.testing.sandbox.app import main

main()
