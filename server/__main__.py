"""`python -m server` runs the command line."""

from .cli import main

main(prog_name="privacy-center")
