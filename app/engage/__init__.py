"""Engagement: non-purchase earning (events, signup, birthdays), badges and challenges, and the
leaderboard — the program's rules that are not about an order's money."""
