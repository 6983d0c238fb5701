"""What the tests share: fixture files in the sources' formats, the end-to-end pipeline
repositories, a real PostgreSQL server, and the import log of stage processes."""
