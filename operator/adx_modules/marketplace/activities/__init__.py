"""Side effects of the marketplace's workflows (payments, purchases, entitlements)."""
