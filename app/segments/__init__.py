"""Member segments: RFM scores and the shop's own segments by rule (docs/segments.md)."""
