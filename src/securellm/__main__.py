"""``python -m securellm`` is the ``securellm`` command."""

from securellm.cli.main import main

main()
