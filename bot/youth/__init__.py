"""Youth resources: knowledge base, hybrid search, eligibility, chat cards, consultations."""
