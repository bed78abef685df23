"""The holdout: a share of a shop's customers, chosen by a stable hash, kept out of the club so
that the lift report can compare what the club's members do with what they would have done."""
