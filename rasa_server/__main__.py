"""``python -m rasa_server <rasa arguments>``: Rasa's CLI with ``patches.apply_all()``."""

import sys

from rasa_server.patches import apply_all


def main() -> None:
    apply_all()
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
