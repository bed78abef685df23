"""The club's program: what an order, refund or cancellation is worth in points."""
