"""The generated pages: the README's tables (results and times), the offline plots page and
its template, and the pull-request report."""
