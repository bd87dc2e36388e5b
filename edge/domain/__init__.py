"""The gate's rules, free of I/O: plates, events, decisions, control plans (管控方案), lists,
serial numbers (流水号), codes, LED wording, and what the platform says and is told."""
