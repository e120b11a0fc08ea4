"""Sentiment scoring. English uses VADER; Danish and Norwegian lexicons come later behind the same call."""
