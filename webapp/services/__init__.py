"""Services wire cards/ and scheduler/ to the database; blueprints stay thin."""
