"""What every command shares: exit codes."""

EXIT_USER_ERROR = 2
EXIT_FAILURE = 1
