"""What a rating prints or writes: documents as JSON, YAML, CSV, tables and HTML invoices,
`explain` reports, price curves, and the progress shown while rating.
"""
