"""Feature: the marketplace. MarketplaceListing handlers today; search, reviews, purchases and
recommendations land here."""
