"""Club members: a shop's customers, their profile and their balances."""
