"""The policy: its model, the staged build from YAML (``loader``), forks by overlay, parameters by date, labels,
and the section that tells the ledger what to remember (``history``)."""
