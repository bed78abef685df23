"""What the club earns and costs: daily rollups kept by the job queue, and the reports that read
them (so a report answers at once, however long the ledger)."""
