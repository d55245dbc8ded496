"""Running the system: health, structured logs, task hand-off that survives a broker outage,
and the page shown while the database restarts. A leaf: it imports no domain app."""
