"""When to study: SM-2, study days and review-queue order. Pure Python, no Flask or database."""
