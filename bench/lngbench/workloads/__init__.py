"""One module per workload; each run function takes the Bench first and
returns one record (a dict, a line of the .jsonl)."""
