"""`python -m piper_dagster.cli`: the `piper` command (tests run it as a real process)."""

from piper_dagster.cli import main

if __name__ == "__main__":
    main()
