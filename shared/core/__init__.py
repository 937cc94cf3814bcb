"""Pure domain: vocabulary, schedules, the governor, errors, settings and constants. No I/O."""
