"""``python -m bioverify`` runs the command line."""

from bioverify.cli import main

main()
