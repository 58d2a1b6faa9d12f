"""``platscan init``: write the annotated example targets file, the start of a user's own registry.

The example ships inside the package (``scanner/examples/``), so a pip-installed platscan has it too;
the copy at the top of the repository is kept identical by a test.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import click

from cli.common import fail_usage, write_output


def example_targets() -> str:
    """The annotated example targets file, as shipped in the package."""
    return resources.files("scanner").joinpath("examples", "targets.example.toml").read_text(encoding="utf-8")


@click.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), default=Path("targets.toml"), required=False)
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
def init(path: Path, force: bool) -> None:
    """Write the annotated example targets file to PATH [default: targets.toml].

    The example registers a few of a province's shared platforms under reserved *.example names:
    replace them with your own. An existing file is left alone (exit 2) unless --force.

    \b
    Example:
      platscan init targets.toml
      platscan scan targets.toml --db fleet.db
    """
    if path.exists() and not force:
        fail_usage(f"{path} already exists: edit it, choose another PATH, or pass --force to overwrite it")
    write_output(path, example_targets())
    click.echo(f"Register your platforms in {path}, then run: platscan scan {path} --db fleet.db")
