"""SQLite storage: schema, the single writer, the read pool and the queries."""
