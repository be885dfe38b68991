"""The foundation every other room builds on, knowing no task: convzoo's registry tree, its user-facing errors,
the stack's compatibility fixes, safe checkpoint loading and saving, config loading, embedded-data generation,
image reading and benchmark timing."""
