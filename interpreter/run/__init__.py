"""A billing run (`ratecard run`): every customer rated under their own plan (`job`), each
plan on its share of the ledger (`shares`), and the output folder written as one unit (`output`).
"""
