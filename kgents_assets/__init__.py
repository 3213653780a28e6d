"""kgents_assets."""
