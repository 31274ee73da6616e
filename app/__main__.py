"""`python -m app ...` is the same as the `jieduan` command."""

from app.cli import main

main()
