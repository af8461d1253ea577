"""`python -m inspectcli` runs the same app as the `inspect` command."""

from inspectcli.cli.entry import main

if __name__ == "__main__":
    main()
