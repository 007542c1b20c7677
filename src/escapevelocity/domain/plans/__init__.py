"""Plans: pure `plan(state, now)` functions that turn what a command read into the events it
will write (ingest, the SLA tick, the case commands). The services read, call a plan, write."""
