# `python -m scanner` predates the cli package and stays a way to start platscan; it is a launcher
# only: nothing in scanner/ imports the command line.
from cli.main import main

main()
